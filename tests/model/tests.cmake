# Golden data from the independent reference (tools/reference), generated at test time.
set(DLVK_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with NumPy for the reference tools")
add_test(NAME model_testdata COMMAND ${DLVK_PYTHON} ${PROJECT_SOURCE_DIR}/tools/reference/make_testdata.py
         ${CMAKE_BINARY_DIR}/testdata)
set_tests_properties(model_testdata PROPERTIES FIXTURES_SETUP model_data TIMEOUT 300)
foreach(profile native minimal mobile-like)
  set(name model)
  set(args)
  if(NOT profile STREQUAL "native")
    set(name model_${profile})
    set(args --test-case-exclude=cli:*)   # the CLI cases do not depend on the profile
  endif()
  add_test(NAME ${name} COMMAND tests_model ${args})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${DLVK_TEST_ENV};DLVK_PROFILE=${profile}"
                       FIXTURES_REQUIRED model_data TIMEOUT 900)
endforeach()
add_dependencies(tests_model dlvk_cli)
