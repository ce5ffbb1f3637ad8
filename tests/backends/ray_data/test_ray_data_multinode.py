"""RayDataExecutor on a simulated two-node cluster: `setup_on_node` runs once on each node.

The cluster (`ray.cluster_utils.Cluster`) lives in a child process, so the session's shared
Ray is left alone; the child always shuts its cluster down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path

    import pyarrow as pa
    import ray
    from ray.cluster_utils import Cluster

    from raycurator import DocumentBatch, ProcessingStage
    from raycurator.backends.ray_data import RayDataExecutor

    marker_dir = sys.argv[1]


    class NodeMarker(ProcessingStage[DocumentBatch, DocumentBatch]):
        _name = "node_marker"

        def setup_on_node(self, node_info=None, worker_metadata=None):
            Path(marker_dir, f"node-{node_info.node_id}-{os.getpid()}-{time.monotonic_ns()}").touch()

        def process(self, task):
            table = task.to_pyarrow()
            node = ray.get_runtime_context().get_node_id()
            return DocumentBatch(task.task_id, task.dataset_name, table.append_column("node", pa.array([node])))


    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address)
        tasks = [DocumentBatch(f"t{i}", "ds", pa.table({"text": [str(i)]})) for i in range(8)]
        outputs = RayDataExecutor().execute([NodeMarker()], tasks)
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        print("RESULT " + json.dumps({"nodes": nodes, "outputs": sorted(o.task_id for o in outputs)}))
    finally:
        ray.shutdown()
        cluster.shutdown()
    """
)


@pytest.mark.slow
def test_setup_on_node_runs_once_on_every_node(tmp_path: Path) -> None:
    script = tmp_path / "two_nodes.py"
    script.write_text(SCRIPT)
    markers = tmp_path / "markers"
    markers.mkdir()
    done = subprocess.run(
        [sys.executable, str(script), str(markers)], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert len(result["nodes"]) == 2
    assert result["outputs"] == [f"t{i}" for i in range(8)]
    marked = sorted(p.name.split("-")[1] for p in markers.glob("node-*"))
    assert marked == result["nodes"], "one setup_on_node call per node, on that node"
