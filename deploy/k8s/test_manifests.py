"""pytest for the Kubernetes manifests: the cross-object checks of validate.py (k8s_validate/),
plus proof that each check catches what it is meant to (the manifests, broken on purpose, in
memory). test_server_config.py covers what the server binary judges.

    python -m pytest -q deploy/k8s/test_manifests.py

Needs PyYAML and the server binary: $DBKV_SERVER, else bazel-bin/server/data-bridge-kv-server
(make test-python builds it and sets DBKV_SERVER); without it the tests that load the
manifests fail, saying how to build it.
"""
from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from k8s_fixtures import CACHE, STORE, container, errors, load, mutated, run, set_env
from k8s_validate import (
    cli,
    dockerfile,
    objects,
    podenv,
    podfiles,
    runtime_libs,
    security,
    workloads,
)
from k8s_validate.findings import Report
from k8s_validate.manifests import Context, Doc, parse_quantity


@pytest.fixture(scope="module")
def loaded() -> Context:
    return load()


# --- the manifests as they are -------------------------------------------------------------


def test_every_file_parses_with_apiversion_kind_and_name(loaded):
    assert {d.kind for d in loaded.docs} >= {"Deployment", "StatefulSet", "Service", "ConfigMap",
                                             "PodDisruptionBudget", "ServiceMonitor"}
    assert not errors(run(loaded, objects.check_documents))


def test_kustomization_lists_every_manifest(loaded):
    assert not errors(run(loaded, objects.check_kustomization))


def test_workloads_probes_resources_settings(loaded):
    assert not errors(run(loaded, workloads.check_workloads))


def test_security_contexts(loaded):
    assert not errors(run(loaded, security.check_security))


def test_pod_files_are_on_their_volumes(loaded):
    assert not errors(run(loaded, podfiles.check_pod_files))


def test_services_select_pods_and_ports(loaded):
    assert not errors(run(loaded, objects.check_services))


def test_servicemonitor_scrapes_every_workload(loaded):
    assert not errors(run(loaded, objects.check_servicemonitors))


def test_every_workload_has_a_pdb(loaded):
    assert not errors(run(loaded, objects.check_pdbs))


def test_dockerfile_matches_manifests_and_setup(loaded):
    assert not errors(run(loaded, dockerfile.check_dockerfile))


def test_runtime_packages_cover_the_binaries(loaded):
    # Skipped inside (a note) unless Debian 12 with ldd, dpkg and the built server.
    assert not errors(run(loaded, runtime_libs.check_runtime_libraries))


def test_all_checks_clean(loaded):
    r = run(loaded)
    assert not errors(r)
    assert not r.warnings, "\n".join(map(str, r.warnings))


# --- each check catches what it should -----------------------------------------------------


def test_memory_limit_below_max_memory_is_an_error(loaded):
    def low(obj):
        container(obj)["resources"]["limits"]["memory"] = "512Mi"
        container(obj)["resources"]["requests"]["memory"] = "512Mi"
    assert "below --max-memory" in errors(run(mutated(loaded, *CACHE, low),
                                              workloads.check_workloads))


def test_little_headroom_is_a_warning(loaded):
    def tight(obj):
        container(obj)["resources"]["limits"]["memory"] = "1100Mi"
        container(obj)["resources"]["requests"]["memory"] = "1100Mi"
    r = run(mutated(loaded, *CACHE, tight), workloads.check_workloads)
    assert not r.errors
    assert any("headroom" in f.message for f in r.warnings)


def test_max_memory_zero_in_a_cache_is_an_error(loaded):
    # 0 is valid for the server (no limit): only its summary says it means unlimited.
    r = run(mutated(loaded, *CACHE, lambda o: set_env(o, "KV_MAX_MEMORY", "0")),
            workloads.check_workloads)
    assert "cache without KV_MAX_MEMORY" in errors(r)


def test_missing_probe_is_an_error(loaded):
    def no_probe(obj):
        del container(obj)["livenessProbe"]
    assert "no livenessProbe" in errors(run(mutated(loaded, *STORE, no_probe),
                                            workloads.check_workloads))


def test_probe_on_wrong_path_is_an_error(loaded):
    def wrong(obj):
        container(obj)["readinessProbe"]["httpGet"]["path"] = "/health"
    assert "readinessProbe checks /health" in errors(run(mutated(loaded, *CACHE, wrong),
                                                         workloads.check_workloads))


def test_short_startup_budget_for_the_store_is_an_error(loaded):
    def short(obj):
        container(obj)["startupProbe"]["failureThreshold"] = 3
    assert "startupProbe allows" in errors(run(mutated(loaded, *STORE, short),
                                               workloads.check_workloads))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("readOnlyRootFilesystem", False, "readOnlyRootFilesystem"),
    ("allowPrivilegeEscalation", True, "allowPrivilegeEscalation"),
    ("capabilities", {"drop": ["NET_RAW"]}, "drop does not contain ALL"),
    ("runAsUser", 0, "runAsUser is 0"),
])
def test_security_context_is_enforced(loaded, field, value, message):
    def weaken(obj):
        container(obj)["securityContext"][field] = value
    assert message in errors(run(mutated(loaded, *CACHE, weaken), security.check_security))


def test_seccomp_from_the_pod_counts(loaded):
    def move(obj):
        del container(obj)["securityContext"]["seccompProfile"]
    assert not errors(run(mutated(loaded, *CACHE, move), security.check_security))

    def drop_both(obj):
        del container(obj)["securityContext"]["seccompProfile"]
        del obj["spec"]["template"]["spec"]["securityContext"]["seccompProfile"]
    assert "seccompProfile" in errors(run(mutated(loaded, *CACHE, drop_both),
                                          security.check_security))


def test_missing_resources_are_an_error(loaded):
    def none(obj):
        container(obj)["resources"] = {}
    e = errors(run(mutated(loaded, *CACHE, none), workloads.check_workloads))
    assert "no resources.requests.cpu" in e and "no resources.limits.memory" in e


@pytest.mark.parametrize(("kind", "name"), [CACHE, STORE])
def test_event_loops_follow_the_cpu_request(loaded, kind, name):
    w = loaded.find(kind, name)
    c = container(w.obj)
    s = podenv.settings(loaded, w, c, Report())
    cpu = parse_quantity(c["resources"]["requests"]["cpu"])
    assert s["io-threads"].origin == "resourceFieldRef requests.cpu"
    assert s["io-threads"].value == str(int(cpu.to_integral_value(rounding="ROUND_CEILING")))
    assert s["workers"].value == "1"
    assert "shards" not in s  # 0: one per event loop
    r = run(loaded, workloads.check_workloads)
    assert not [f for f in r.warnings if "KV_IO_THREADS" in f.message
                or "KV_WORKERS" in f.message]


@pytest.mark.parametrize(("kind", "name"), [CACHE, STORE])
def test_unset_io_threads_is_a_warning(loaded, kind, name):
    def drop(obj):
        container(obj)["env"] = [e for e in container(obj)["env"] if e["name"] != "KV_IO_THREADS"]
    r = run(mutated(loaded, kind, name, drop), workloads.check_workloads)
    assert not r.errors
    assert [f.where for f in r.warnings if "KV_IO_THREADS unset" in f.message] == [
        f"{loaded.find(kind, name).where} container server"]


def test_io_threads_zero_is_a_warning(loaded):
    r = run(mutated(loaded, *CACHE, lambda o: set_env(o, "KV_IO_THREADS", "0")),
            workloads.check_workloads)
    assert not r.errors
    assert any("KV_IO_THREADS 0" in f.message for f in r.warnings)


def test_unset_workers_is_a_warning(loaded):
    def drop(obj):
        del obj["data"]["KV_WORKERS"]
    r = run(mutated(loaded, "ConfigMap", "data-bridge-kv-config", drop),
            workloads.check_workloads)
    assert not r.errors
    hits = [f for f in r.warnings if "KV_WORKERS unset" in f.message]
    assert len(hits) == 2  # both workloads load the shared ConfigMap


@pytest.mark.parametrize(("resources", "ref", "expected"), [
    ({"requests": {"cpu": "2"}}, {"resource": "requests.cpu", "divisor": "1"}, "2"),
    ({"requests": {"cpu": "500m"}}, {"resource": "requests.cpu"}, "1"),
    ({"requests": {"cpu": "1500m"}}, {"resource": "requests.cpu", "divisor": "1m"}, "1500"),
    ({"limits": {"cpu": "3"}}, {"resource": "requests.cpu"}, "3"),  # requests default to limits
    ({"requests": {"cpu": "2"}}, {"resource": "limits.cpu"}, None),  # the node's allocatable
    ({"limits": {"memory": "1536Mi"}}, {"resource": "limits.memory", "divisor": "1Mi"}, "1536"),
])
def test_resource_field_value(loaded, resources, ref, expected):
    c = {"name": "server", "resources": resources}
    doc = Doc(loaded.directory / "x.yaml", 0, {
        "kind": "Deployment", "metadata": {"name": "x"},
        "spec": {"template": {"spec": {"containers": [c]}}}})
    assert podenv.resource_field_value(doc, c, ref) == expected
    assert podenv.resource_field_value(doc, {"name": "other"},
                                       dict(ref, containerName="server")) == expected


def test_localhost_bind_is_an_error(loaded):
    r = run(mutated(loaded, *STORE, lambda o: set_env(o, "KV_HTTP_BIND", "127.0.0.1:7380")),
            workloads.check_workloads)
    assert "KV_HTTP_BIND listens on 127.0.0.1" in errors(r)


def test_default_bind_is_an_error(loaded):
    # Unset, the server's own default applies (its --check-config summary says which).
    def drop(obj):
        del obj["data"]["KV_BIND"]
    r = run(mutated(loaded, "ConfigMap", "data-bridge-kv-config", drop),
            workloads.check_workloads)
    assert "KV_BIND listens on 127.0.0.1" in errors(r)


def test_literal_password_is_an_error(loaded):
    r = run(mutated(loaded, *CACHE, lambda o: set_env(o, "KV_PASSWORD", "hunter2")),
            workloads.check_workloads)
    assert "literal" in errors(r)


def test_password_file_must_be_on_the_secret_volume(loaded):
    r = run(mutated(loaded, *STORE, lambda o: set_env(o, "KV_PASSWORD_FILE", "/tmp/password")),
            podfiles.check_pod_files)
    assert "KV_PASSWORD_FILE /tmp/password is not on a Secret volume" in errors(r)


def test_password_file_must_be_in_the_secret(loaded):
    r = run(mutated(loaded, *STORE, lambda o: set_env(o, "KV_PASSWORD_FILE",
                                                        "/etc/data-bridge-kv/auth/pw")),
            podfiles.check_pod_files)
    assert "the Secret volume auth has no file 'pw'" in errors(r)


def test_data_dir_must_be_on_the_claim(loaded):
    r = run(mutated(loaded, *STORE, lambda o: set_env(o, "KV_DATA_DIR", "/tmp/data")),
            podfiles.check_pod_files)
    assert "KV_DATA_DIR /tmp/data is not on a PersistentVolumeClaim" in errors(r)


def test_data_dir_needs_an_fs_group(loaded):
    def drop(obj):
        del obj["spec"]["template"]["spec"]["securityContext"]["fsGroup"]
    r = run(mutated(loaded, *STORE, drop), podfiles.check_pod_files)
    assert any("fsGroup" in f.message for f in r.warnings)


def test_data_dir_in_a_deployment_is_an_error(loaded):
    r = run(mutated(loaded, *CACHE, lambda o: set_env(o, "KV_DATA_DIR", "/data")),
            workloads.check_workloads)
    assert "KV_DATA_DIR set in a Deployment" in errors(r)


def test_short_grace_period_is_an_error(loaded):
    def short(obj):
        obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    assert "terminationGracePeriodSeconds 30" in errors(run(mutated(loaded, *STORE, short),
                                                            workloads.check_workloads))


def test_statefulset_needs_its_headless_service(loaded):
    def not_headless(obj):
        obj["spec"]["clusterIP"] = "10.0.0.1"
    e = errors(run(mutated(loaded, "Service", "data-bridge-kv-store", not_headless),
                   workloads.check_workloads))
    assert "not headless" in e


def test_pdb_selecting_nothing_is_an_error(loaded):
    def off(obj):
        obj["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "nope"
    e = errors(run(mutated(loaded, "PodDisruptionBudget", "data-bridge-kv-store", off),
                   objects.check_pdbs))
    assert "matches no workload" in e and "no PodDisruptionBudget" in e


def test_servicemonitor_selecting_no_service_is_an_error(loaded):
    def off(obj):
        obj["spec"]["selector"]["matchLabels"] = {"app": "other"}
    e = errors(run(mutated(loaded, "ServiceMonitor", "data-bridge-kv", off),
                   objects.check_servicemonitors))
    assert "matches no Service" in e and "no ServiceMonitor scrapes" in e


def test_servicemonitor_port_must_exist(loaded):
    def off(obj):
        obj["spec"]["endpoints"][0]["port"] = "metrics"
    assert "no port named metrics" in errors(run(mutated(loaded, "ServiceMonitor",
                                                         "data-bridge-kv", off),
                                                 objects.check_servicemonitors))


def test_service_target_port_must_exist(loaded):
    def off(obj):
        obj["spec"]["ports"][0]["targetPort"] = "nope"
    assert "targetPort 'nope'" in errors(run(mutated(loaded, "Service", "data-bridge-kv-cache",
                                                     off), objects.check_services))


def test_namespace_in_a_manifest_is_an_error(loaded):
    def ns(obj):
        obj["metadata"]["namespace"] = "prod"
    assert "namespace-agnostic" in errors(run(mutated(loaded, "ConfigMap",
                                                      "data-bridge-kv-config", ns),
                                              objects.check_documents))


def test_dockerfile_user_must_match_run_as_user(loaded):
    ctx = copy.copy(loaded)
    ctx.dockerfile = loaded.dockerfile.replace("USER 10001:10001", "USER 10002")
    assert "differs from the image's USER 10002" in errors(run(ctx, dockerfile.check_dockerfile))


def test_dockerfile_build_stage_must_install_setup_packages(loaded):
    ctx = copy.copy(loaded)
    ctx.dockerfile = loaded.dockerfile.replace(" libcaf-dev ", " ")
    assert "libcaf-dev" in errors(run(ctx, dockerfile.check_dockerfile))


def test_runtime_package_list_is_checked_against_ldd(loaded):
    binaries = runtime_libs.image_binaries()
    if not (runtime_libs.is_debian_12() and binaries
            and binaries[0].name == "data-bridge-kv-server"):
        pytest.skip("needs Debian 12 and the built server")
    ctx = copy.copy(loaded)
    ctx.dockerfile = loaded.dockerfile.replace("    libcaf-io0.17 \\\n", "")
    assert "libcaf-io0.17" in errors(run(ctx, runtime_libs.check_runtime_libraries))


# --- parsers -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("1536Mi", 1536 * 2**20), ("3Gi", 3 * 2**30), ("2", 2), ("500m", 0.5), ("1e3", 1000),
    ("1G", 10**9), ("1.5Gi", 1.5 * 2**30),
])
def test_parse_quantity(text, expected):
    assert parse_quantity(text) == Decimal(str(expected))


def test_image_entrypoint_and_files(loaded):
    entrypoint, cmd = dockerfile.image_command(loaded.dockerfile)
    assert entrypoint == ["/usr/local/bin/data-bridge-kv-server"]
    assert "--bind" in cmd
    files = dockerfile.image_files(loaded.dockerfile)
    assert "/usr/local/bin/data-bridge-kv-server" in files
    assert "/usr/local/lib/data-bridge-kv/plugins/throttle.so" in files


def test_main_exits_zero(loaded, capsys):
    assert cli.main(["-q"]) == 0
    assert "OK:" in capsys.readouterr().out
