# Protocol module tests (label unit).
kn_add_unit_test(test_proto SOURCES ${KANAL_TEST_DIR}/unit/test_proto.c LIBS kn_proto)

# The committed generated codecs must match what scripts/gen-proto.py produces
# from the definitions folder; exit code 77 (definitions missing) = skipped.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME proto_gen_up_to_date
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/scripts/gen-proto.py
                   --check --defs ${KANAL_PROTO_DEFS} --out ${CMAKE_SOURCE_DIR})
  set_tests_properties(proto_gen_up_to_date PROPERTIES LABELS unit TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()

# Compression codecs (src/proto/compress.c); links snappy itself to build raw
# snappy input the way librdkafka does.
kn_add_unit_test(test_compress
  SOURCES ${KANAL_TEST_DIR}/unit/test_compress.c ${KANAL_TEST_DIR}/unit/test_log_batchgen.c
  LIBS kn_proto ${SNAPPY_LIB})
