#!/usr/bin/python3
"""Consumer groups with kafkajs 2.2.4 consumers, each a node process (issue 5):
a produce-and-consume round trip with DescribeGroups/ListGroups and a resume
from the commits; three members on a 6-partition topic split 2/2/2, a kill
-9ed member's partitions go to the others after its session timeout, a clean
leave rebalances at once, committed offsets survive a consumer kill -9 and
restart (exact resume), two groups on one topic each receive every record.
The scenarios are in test_groups_clients.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_groups_clients as gc  # noqa: E402

if __name__ == "__main__":
    gc.single_broker_main("kafkajs", "groups_kafkajs")
