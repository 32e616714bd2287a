# Fuzz targets. In CTest each target is linked with a replay main and run
# over its committed corpus (label fuzz); scripts/fuzz.sh links the same
# sources with libFuzzer under clang for real fuzzing.
foreach(target request batch)
  add_executable(fuzz_${target}_replay ${KANAL_TEST_DIR}/fuzz/fuzz_${target}.c ${KANAL_TEST_DIR}/fuzz/replay_main.c)
  target_link_libraries(fuzz_${target}_replay PRIVATE kn_proto)
  add_test(NAME fuzz_${target}_replay COMMAND fuzz_${target}_replay ${KANAL_TEST_DIR}/fuzz/corpus/${target})
  set_tests_properties(fuzz_${target}_replay PROPERTIES LABELS fuzz TIMEOUT 300)
endforeach()

if(KANAL_FUZZ)
  foreach(target request batch)
    add_executable(fuzz_${target} ${KANAL_TEST_DIR}/fuzz/fuzz_${target}.c)
    target_link_libraries(fuzz_${target} PRIVATE kn_proto)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
  endforeach()
endif()
