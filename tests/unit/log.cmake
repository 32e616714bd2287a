# Unit tests of the log module (and the RecordBatch/CRC code it builds on).
kn_add_unit_test(test_batch
  SOURCES ${KANAL_TEST_DIR}/unit/test_batch.c ${KANAL_TEST_DIR}/unit/test_log_batchgen.c
  LIBS kn_proto kn_util)
kn_add_unit_test(test_log
  SOURCES ${KANAL_TEST_DIR}/unit/test_log.c ${KANAL_TEST_DIR}/unit/test_log_batchgen.c
  LIBS kn_log)
