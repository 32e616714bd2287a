# Integration tests: real ZooKeeper + kanald processes driven by python3
# (harness.py) and real clients (kcat, confluent-kafka, kafka-python, kafkajs).
# Included from tests/CMakeLists.txt. Every test holds the resource lock
# "kanal_cluster", so only one cluster runs at a time on the 2 shared cores
# while unit tests keep running beside it. Each harness has its own hard
# timeout a little below TIMEOUT, so it cleans up before ctest would kill it.
if(TARGET kanald)
  set(KANAL_IT_PYTHON /usr/bin/python3 CACHE FILEPATH
      "python3 that sees the Debian Kafka client packages")

  # The kanal CLI for the tests that drive it (test_cli_kanal.py).
  set(KANAL_IT_CLI_ENV "")
  if(TARGET kanal)
    set(KANAL_IT_CLI_ENV ";KANAL_CLI=$<TARGET_FILE:kanal>")
  endif()

  # kn_add_integration_test(<name> <timeout-seconds> [extra labels...])
  function(kn_add_integration_test name timeout)
    set(labels integration ${ARGN})
    add_test(NAME it_${name}
             COMMAND ${KANAL_IT_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_${name}.py)
    set_tests_properties(it_${name} PROPERTIES
      LABELS "${labels}"
      TIMEOUT ${timeout}
      RESOURCE_LOCK kanal_cluster
      ENVIRONMENT "KANAL_BIN=$<TARGET_FILE:kanald>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1${KANAL_IT_CLI_ENV}")
  endfunction()

  kn_add_integration_test(cli 90)
  kn_add_integration_test(cli_kanal 450)
  kn_add_integration_test(metrics 240)
  kn_add_integration_test(kcat 180)
  kn_add_integration_test(bad_input 210)
  kn_add_integration_test(list_offsets 180)
  kn_add_integration_test(kafka_python 210)
  kn_add_integration_test(kafkajs 270)
  kn_add_integration_test(confluent 450 slow)
  kn_add_integration_test(compression 280)
  kn_add_integration_test(cluster_failover 450 cluster)
  kn_add_integration_test(min_isr 300 cluster)
  kn_add_integration_test(chaos 300 cluster slow chaos)
  kn_add_integration_test(idempotence 240)
  kn_add_integration_test(shutdown 150)
  kn_add_integration_test(restart 180)
  kn_add_integration_test(zk_missing 120)
  kn_add_integration_test(crash 330 crash slow)
  kn_add_integration_test(groups 200)
  kn_add_integration_test(groups_clients 200 cluster)
  kn_add_integration_test(groups_kafkapython 200)
  kn_add_integration_test(groups_kafkajs 200)
  kn_add_integration_test(groups_failover 260)
  kn_add_integration_test(full_disk 220)
  kn_add_integration_test(retention 300)
  kn_add_integration_test(configs 330)
endif()
