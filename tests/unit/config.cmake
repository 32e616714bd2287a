# Broker configuration: properties reader (kn_util) + broker/topic tables.
# src/broker/config.c is compiled in directly so the test needs only kn_util.
kn_add_unit_test(test_config
  SOURCES ${KANAL_TEST_DIR}/unit/test_config.c ${CMAKE_SOURCE_DIR}/src/broker/config.c
  LIBS kn_util)
# The test loads the shipped conf/*.properties.
target_compile_definitions(test_config PRIVATE KANAL_SOURCE_DIR="${CMAKE_SOURCE_DIR}")

# docs/configuration.md is generated from the table.
add_executable(gen_config_doc ${KANAL_TEST_DIR}/unit/gen_config_doc.c ${CMAKE_SOURCE_DIR}/src/broker/config.c)
target_link_libraries(gen_config_doc PRIVATE kn_util)
add_custom_target(gen-config-doc
  COMMAND sh ${CMAKE_SOURCE_DIR}/scripts/gen-config-doc.sh --write $<TARGET_FILE:gen_config_doc>
          ${CMAKE_SOURCE_DIR}/docs/configuration.md
  DEPENDS gen_config_doc
  COMMENT "Regenerating docs/configuration.md"
  VERBATIM)
add_test(NAME config_doc_up_to_date
  COMMAND sh ${CMAKE_SOURCE_DIR}/scripts/gen-config-doc.sh --check $<TARGET_FILE:gen_config_doc>
          ${CMAKE_SOURCE_DIR}/docs/configuration.md)
set_tests_properties(config_doc_up_to_date PROPERTIES LABELS unit TIMEOUT 60)
