# Group coordinator state machine and the RecordBatch builder: no sockets,
# no loop; an injected clock and an in-memory offsets log.
kn_add_unit_test(test_group SOURCES ${KANAL_TEST_DIR}/unit/test_group.c LIBS kn_group)
target_include_directories(test_group PRIVATE ${CMAKE_SOURCE_DIR}/src/group)
