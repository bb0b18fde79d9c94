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

# Other subgroup sizes (the kernels must take any from 4 to 128): lavapipe's lanes follow its vector width,
# LP_NATIVE_VECTOR_WIDTH=128 -> 4 lanes, 512 -> 16 (the default 256 -> 8, the runs above). CPU kernels
# (native) at 4 lanes (SwiftShader's size), GPU kernels (mobile-like) at 4 and 16. (CPU kernels at 16 lanes
# pass too, but llvmpipe takes ~9 minutes on 2 cores to compile them at 512 bits with an empty cache;
# run by hand: LP_NATIVE_VECTOR_WIDTH=512.) DLVK_TEST_SUBGROUP_SIZE makes the run check
# that the device really has that size (other drivers ignore LP_*: the check then reports a skip).
# Mesa's shader cache does not key a shader that never reads gl_SubgroupSize on the vector width (code
# compiled at 256 bits ran with 8 lanes under a reported size of 4: runtime test "subgroup builtins"), so
# each width keeps its own cache directory. (Widths above 512
# are not usable: llvmpipe 22.3 then reports 32 or 64 lanes but runs 16.)
# Only the kernels that use subgroup operations run (the runtime checks, matmul, differential attention,
# top-k selection), and of the matmul variants those of the profile that do (DLVK_TEST_MATMUL_VARIANTS;
# tiled uses none): everything again at each width took llvmpipe minutes to compile (all of it at 16
# lanes: 349 s in a clean CI run; the two-pass attention at 4 lanes 117 s).
foreach(entry IN ITEMS "ops_subgroup4|native|128|4|rows,subgroup_k"
                       "ops_subgroup4_mobile|mobile-like|128|4|matvec,matvec_wide,coopmat"
                       "ops_subgroup16_mobile|mobile-like|512|16|matvec,matvec_wide,coopmat")
  string(REPLACE "|" ";" fields "${entry}")
  list(GET fields 0 test_name)
  list(GET fields 1 profile)
  list(GET fields 2 width)
  list(GET fields 3 lanes)
  list(GET fields 4 variants)
  set(test_env ${DLVK_TEST_ENV})
  list(APPEND test_env "DLVK_PROFILE=${profile}" "LP_NATIVE_VECTOR_WIDTH=${width}" "DLVK_TEST_SUBGROUP_SIZE=${lanes}"
       "MESA_SHADER_CACHE_DIR=${CMAKE_BINARY_DIR}/mesa-shader-cache-${width}" "DLVK_TEST_MATMUL_VARIANTS=${variants}")
  add_test(NAME ${test_name} COMMAND tests_ops "--test-case=runtime:*,matmul*,diff_attention*,select*"
                                                "--test-case-exclude=*1 GiB*")
  set_tests_properties(${test_name} PROPERTIES ENVIRONMENT "${test_env}" TIMEOUT 600 LABELS "gpu;ops")
endforeach()
