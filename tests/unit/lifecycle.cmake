# Unit tests of the log lifecycle: retention decisions and segment removal,
# and the cleaner (compaction, producer state, crash at every swap step).
kn_add_unit_test(test_retention
  SOURCES ${KANAL_TEST_DIR}/unit/test_retention.c
  LIBS kn_log)
kn_add_unit_test(test_cleaner
  SOURCES ${KANAL_TEST_DIR}/unit/test_cleaner.c
  LIBS kn_log)
