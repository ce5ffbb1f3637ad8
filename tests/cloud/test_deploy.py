"""The deployment examples under deploy/ are well-formed and their pipeline builds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from tests.cli.conftest import run_cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def test_kuberay_cluster_and_job_use_one_image_and_ship_the_pipeline_folder():
    cluster, job = load("kuberay/raycluster.yaml"), load("kuberay/rayjob.yaml")
    assert (cluster["apiVersion"], cluster["kind"]) == ("ray.io/v1", "RayCluster")
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    for spec in (cluster["spec"], job["spec"]["rayClusterSpec"]):
        head = spec["headGroupSpec"]
        assert head["rayStartParams"]["num-cpus"] == "0"  # the driver's host does no curation work
        images = {head["template"]["spec"]["containers"][0]["image"]}
        images |= {g["template"]["spec"]["containers"][0]["image"] for g in spec["workerGroupSpecs"]}
        assert len(images) == 1
        mounts = head["template"]["spec"]["containers"][0]["volumeMounts"]
        assert {"name": "pipeline", "mountPath": "/pipelines"} in mounts
        volumes = head["template"]["spec"]["volumes"]
        assert volumes[0]["configMap"]["name"] == "raycurator-pipeline"
    entry = job["spec"]["entrypoint"]
    assert entry.startswith("raycurator run /pipelines/pipeline.yaml") and "--working-dir /pipelines" in entry
    assert job["spec"]["shutdownAfterJobFinishes"] is True


def test_the_configmap_pipeline_builds_with_its_own_stage_module(tmp_path):
    data = load("kuberay/pipeline-configmap.yaml")["data"]
    for name, text in data.items():
        (tmp_path / name).write_text(text)
    result = run_cli("describe", str(tmp_path / "pipeline.yaml"))
    assert result.returncode == 0, str(result)
    assert "add_snapshot" in result.output


def test_vm_cluster_config_and_scripts():
    config = load("vm/cluster.yaml")
    assert config["provider"]["type"] == "local" and config["provider"]["worker_ips"]
    assert any("--num-cpus=0" in c for c in config["head_start_ray_commands"])
    for script in ("start-head.sh", "start-worker.sh"):
        subprocess.run(["bash", "-n", str(DEPLOY / "vm" / script)], check=True)
