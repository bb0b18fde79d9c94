# Compiles GLSL compute shaders to SPIR-V, validates them with spirv-val, and embeds the words in a
# generated C++ source so nothing is looked up at run time.
find_program(GLSLC glslc REQUIRED)
find_program(SPIRV_VAL spirv-val REQUIRED)

# dlvk_embed_shaders(TARGET <name> SOURCES a.comp b.comp ... INCLUDE_DIR dir)
function(dlvk_embed_shaders)
  cmake_parse_arguments(ARG "" "TARGET;INCLUDE_DIR" "SOURCES" ${ARGN})
  set(spv_files)
  set(names)
  foreach(src ${ARG_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    set(spv ${CMAKE_CURRENT_BINARY_DIR}/${name}.spv)
    file(GLOB common_headers CONFIGURE_DEPENDS ${ARG_INCLUDE_DIR}/*.glsl)
    add_custom_command(
      OUTPUT ${spv}
      COMMAND ${GLSLC} --target-env=vulkan1.1 -O -I ${ARG_INCLUDE_DIR} -o ${spv} ${src}
      COMMAND ${SPIRV_VAL} --target-env vulkan1.1 ${spv}
      DEPENDS ${src} ${common_headers}
      COMMENT "glslc + spirv-val ${name}.comp"
      VERBATIM)
    list(APPEND spv_files ${spv})
    list(APPEND names ${name})
  endforeach()
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/embedded_shaders.cpp)
  add_custom_command(
    OUTPUT ${gen}
    COMMAND ${CMAKE_COMMAND} -DOUT=${gen} "-DNAMES=${names}" -DDIR=${CMAKE_CURRENT_BINARY_DIR}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedSpirv.cmake
    DEPENDS ${spv_files} ${PROJECT_SOURCE_DIR}/cmake/EmbedSpirv.cmake
    COMMENT "embedding SPIR-V"
    VERBATIM)
  add_library(${ARG_TARGET} OBJECT ${gen})
endfunction()
