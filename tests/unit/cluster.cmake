# owned by the cluster module: pure parts (znode JSON, ids, names, assignment)
kn_add_unit_test(test_cluster SOURCES unit/test_cluster.c LIBS kn_cluster)
target_include_directories(test_cluster PRIVATE ${CMAKE_SOURCE_DIR}/src/cluster)
# owned by the cluster module: the controller's decisions (election.c)
kn_add_unit_test(test_controller SOURCES unit/test_controller.c LIBS kn_cluster)
target_include_directories(test_controller PRIVATE ${CMAKE_SOURCE_DIR}/src/cluster)

# ZooKeeper smoke: needs java + Debian's zookeeper package; label integration.
add_executable(zk_smoke cluster/zk_smoke.c)
target_link_libraries(zk_smoke PRIVATE kn_cluster)
if(EXISTS /usr/share/zookeeper/bin/zkServer.sh)
  add_test(NAME cluster_zk_smoke
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cluster/zk_smoke.sh $<TARGET_FILE:zk_smoke>)
  set_tests_properties(cluster_zk_smoke PROPERTIES LABELS integration TIMEOUT 120)
endif()
