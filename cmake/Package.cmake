# Packaging: libdlvk.so (exports the C API of dlvk.h only), one self-contained static libdlvk.a, and
# `cmake --install` rules for both, dlvk.h, the dlvk program, a CMake package (find_package(dlvk) ->
# dlvk::dlvk, dlvk::dlvk_static) and a pkg-config file (dlvk.pc).
# In the build tree the apps and C++ tests keep linking the static `dlvk` target.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# dlvk.h's version macros must agree with project(VERSION): checked when the C API compiles.
target_compile_definitions(dlvk PRIVATE DLVK_PROJECT_VERSION="${PROJECT_VERSION}")

# The shared library: the C API sources plus what they use from the static libraries; a version
# script keeps every symbol but dlvk_* local, so the C++ internals (and fmt, volk) do not leak.
file(GLOB dlvk_capi_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lib/capi/*.cpp)
set(dlvk_map ${PROJECT_SOURCE_DIR}/lib/capi/dlvk.map)
add_library(dlvk_shared SHARED ${dlvk_capi_sources})
target_compile_definitions(dlvk_shared PRIVATE DLVK_PROJECT_VERSION="${PROJECT_VERSION}")
target_link_libraries(dlvk_shared PRIVATE dlvk)
target_include_directories(dlvk_shared INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/lib/include>)
target_link_options(dlvk_shared PRIVATE "LINKER:--version-script=${dlvk_map}" "LINKER:--no-undefined")
set_target_properties(dlvk_shared PROPERTIES
  OUTPUT_NAME dlvk
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${dlvk_map}
  C_VISIBILITY_PRESET hidden
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON)

# The installable static library: the in-tree `dlvk` archive (C API, Vulkan runtime, kernels, model,
# embedded shaders, volk) merged with `dlvk_host` (tokenizer, config/safetensors, sampler), so a
# static consumer links one archive plus the system libraries listed in dlvk.pc's Libs.private.
set(dlvk_static_archive ${CMAKE_BINARY_DIR}/package/libdlvk.a)
add_custom_command(
  OUTPUT ${dlvk_static_archive}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/package
  COMMAND ${CMAKE_COMMAND} -DAR=${CMAKE_AR} -DRANLIB=${CMAKE_RANLIB} -DOUT=${dlvk_static_archive}
          "-DINPUTS=$<TARGET_FILE:dlvk>;$<TARGET_FILE:dlvk_host>" -P ${PROJECT_SOURCE_DIR}/cmake/MergeArchives.cmake
  DEPENDS dlvk dlvk_host ${PROJECT_SOURCE_DIR}/cmake/MergeArchives.cmake
  COMMENT "merging libdlvk.a + libdlvk_host.a into package/libdlvk.a"
  VERBATIM)
add_custom_target(dlvk_static_package ALL DEPENDS ${dlvk_static_archive})

# Libraries a static consumer needs besides libdlvk.a (the C++ runtime: the library is C++ inside).
set(DLVK_PC_LIBS_PRIVATE "-lstdc++ -lm -ldl -lpthread")
set(DLVK_PC_REQUIRES_PRIVATE "fmt libpcre2-8 libutf8proc")
set(DLVK_STATIC_LINK_LIBRARIES "fmt;pcre2-8;utf8proc;stdc++;m;dl;pthread")

install(TARGETS dlvk_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${dlvk_static_archive} DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/lib/include/dlvk/dlvk.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dlvk)
install(TARGETS dlvk_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(dlvk_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/dlvk)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/dlvkConfig.cmake.in
  ${CMAKE_BINARY_DIR}/package/dlvkConfig.cmake
  INSTALL_DESTINATION ${dlvk_cmake_dir}
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/package/dlvkConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/package/dlvkConfig.cmake ${CMAKE_BINARY_DIR}/package/dlvkConfigVersion.cmake
  DESTINATION ${dlvk_cmake_dir})

# dlvk.pc names absolute paths under the prefix given at install time (cmake --install --prefix P).
set(DLVK_PC_PREFIX "@DLVK_PC_PREFIX@")  # filled in at install time
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(DLVK_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(DLVK_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/dlvk.pc.in ${CMAKE_BINARY_DIR}/package/dlvk.pc.in @ONLY)
install(CODE "
  set(DLVK_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${CMAKE_BINARY_DIR}/package/dlvk.pc.in\" \"${CMAKE_BINARY_DIR}/package/dlvk.pc\" @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/package/dlvk.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
