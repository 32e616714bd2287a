# Unit tests of broker pieces that need no loop or sockets (label unit).
kn_add_unit_test(test_producer_state
  SOURCES ${KANAL_TEST_DIR}/unit/test_producer_state.c ${CMAKE_SOURCE_DIR}/src/broker/producer_state.c
          ${KANAL_TEST_DIR}/unit/test_log_batchgen.c
  LIBS kn_log kn_proto kn_util)
target_include_directories(test_producer_state PRIVATE ${CMAKE_SOURCE_DIR}/src/broker ${KANAL_TEST_DIR}/unit)
