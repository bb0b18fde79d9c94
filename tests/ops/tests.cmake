# ctest entries for tests_ops: the same binary under each capability profile, so every kernel variant
# choice (shared memory, subgroup ops, 16-bit storage, binding range) is exercised on one device.
# DLVK_TEST_ENV is a CMake list (validation on, data paths); each entry appends its profile to it.
# The 1 GiB embedding case allocates and fills 2 GiB of host + device memory and runs ~10 s on
# lavapipe, so only the native run includes it.
set(dlvk_ops_profiles "ops|native|" "ops_minimal|minimal|--test-case-exclude=*1 GiB*"
    "ops_mobile|mobile-like|--test-case-exclude=*1 GiB*")
foreach(entry IN LISTS dlvk_ops_profiles)
  string(REPLACE "|" ";" fields "${entry}")
  list(GET fields 0 test_name)
  list(GET fields 1 profile)
  list(GET fields 2 extra_args)
  set(test_env ${DLVK_TEST_ENV})
  list(APPEND test_env "DLVK_PROFILE=${profile}")
  if(extra_args)
    add_test(NAME ${test_name} COMMAND tests_ops ${extra_args})
  else()
    add_test(NAME ${test_name} COMMAND tests_ops)
  endif()
  set_tests_properties(${test_name} PROPERTIES ENVIRONMENT "${test_env}" TIMEOUT 600 LABELS "gpu;ops")
endforeach()
