"""pytest for what the server binary judges: every container's command line and KV_* variables
go to `data-bridge-kv-server --check-config` (k8s_validate/server_config.py), and what it
refuses is reported in its own words. Paths only the pod has get stand-ins.

    DBKV_SERVER=bazel-bin/server/data-bridge-kv-server python -m pytest -q \\
        deploy/k8s/test_server_config.py

The expected messages come from running the binary here, not from copies of its wording.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from k8s_fixtures import CACHE, STORE, container, errors, load, mutated, run, set_env
from k8s_validate import cli, podenv, podfiles, server_config, workloads
from k8s_validate.findings import Report
from k8s_validate.manifests import Context
from k8s_validate.server_binary import CheckResult, host_environment, parse_help

PLUGIN = "/usr/local/lib/data-bridge-kv/plugins/throttle.so"


@pytest.fixture(scope="module")
def loaded() -> Context:
    return load()


def server_says(ctx: Context, env: dict[str, str], args: tuple[str, ...] = ()) -> str:
    """The first line the binary itself prints refusing env/args (its prefix dropped)."""
    assert ctx.server is not None
    res = subprocess.run([str(ctx.server.path), "--check-config", *args], capture_output=True,
                         text=True, env={**host_environment(), **env}, timeout=60, check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    first = res.stderr.strip().splitlines()[0]
    for prefix in ("data-bridge-kv-server: configuration refused: ", "data-bridge-kv-server: "):
        first = first.removeprefix(prefix)
    return first


def invocation(ctx: Context, kind: str, name: str) -> server_config.Invocation:
    w = ctx.find(kind, name)
    assert w is not None
    c = container(w.obj)
    checked = server_config.server_result(ctx, w, c)
    assert checked is not None
    return checked[1]


# --- the manifests as they are -------------------------------------------------------------


def test_the_server_accepts_both_workloads(loaded):
    r = run(loaded, server_config.check_server_config)
    assert not errors(r)
    accepted = [n for n in r.notes if "the server accepts it" in n]
    assert len(accepted) == 2
    store = next(n for n in accepted if "StatefulSet" in n)
    # The data dir had a stand-in; the summary speaks of the pod's path.
    assert "bind 0.0.0.0:7379" in store and "data in /data (fsync periodic)" in store


def test_pod_paths_get_stand_ins(loaded):
    inv = invocation(loaded, *STORE)
    assert inv.env["KV_DATA_DIR"] != "/data"
    assert inv.env["KV_PASSWORD_FILE"] != "/etc/data-bridge-kv/auth/password"
    assert Path(inv.env["KV_PASSWORD_FILE"]).read_text().strip()
    assert set(inv.stand_ins.values()) == {"/data", "/etc/data-bridge-kv/auth/password"}
    assert inv.env["KV_FSYNC"] == "periodic"  # everything else as the pod gets it
    assert inv.env["KV_IO_THREADS"] == "2"  # from requests.cpu


# --- values and names, in the server's words -----------------------------------------------


@pytest.mark.parametrize(("target", "name", "value"), [
    (STORE, "KV_FSYNC", "sometimes"),
    (CACHE, "KV_MAX_MEMORY", "1.5GiB"),
    (CACHE, "KV_MAX_MEMORY", "512KiB"),  # below the server's minimum, a well-formed size
    (CACHE, "KV_MAX_FRAME_BYTES", "16"),
    (STORE, "KV_BIND", "7379"),
    (STORE, "KV_LOG_LEVEL", "verbose"),
])
def test_bad_value_is_reported_in_the_servers_words(loaded, target, name, value):
    e = errors(run(mutated(loaded, *target, lambda o: set_env(o, name, value)),
                   server_config.check_server_config))
    assert server_says(loaded, {name: value}) in e
    assert f"{name}={value!r} from env" in e  # where it was set


def test_bad_value_from_a_configmap_is_reported(loaded):
    def bad(obj):
        obj["data"]["KV_FSYNC"] = "sometimes"
    e = errors(run(mutated(loaded, "ConfigMap", "data-bridge-kv-store-config", bad),
                   server_config.check_server_config))
    assert server_says(loaded, {"KV_FSYNC": "sometimes"}) in e
    assert "from ConfigMap data-bridge-kv-store-config" in e


def test_cpu_request_above_the_event_loop_limit_is_an_error(loaded):
    def big(obj):
        container(obj)["resources"]["requests"]["cpu"] = "64500m"  # rounded up: 65
    e = errors(run(mutated(loaded, *STORE, big), server_config.check_server_config))
    assert server_says(loaded, {"KV_IO_THREADS": "65"}) in e
    assert "from resourceFieldRef requests.cpu" in e


def test_unknown_command_line_flag_is_an_error(loaded):
    def flag(obj):
        container(obj)["args"] = ["--no-such-flag=1"]
    e = errors(run(mutated(loaded, *CACHE, flag), server_config.check_server_config))
    assert server_says(loaded, {}, ("--no-such-flag=1",)) in e


def test_bad_command_line_value_is_an_error(loaded):
    def flag(obj):
        container(obj)["args"] = ["--eviction", "random"]
    e = errors(run(mutated(loaded, *CACHE, flag), server_config.check_server_config))
    assert server_says(loaded, {}, ("--eviction", "random")) in e
    assert "--eviction on the command line" in e


def test_unknown_kv_variable_is_an_error(loaded):
    # The server ignores it (no message of its own): its --help names every variable it reads.
    r = run(mutated(loaded, *STORE, lambda o: set_env(o, "KV_FSYNC_INTERVAL", "100")),
            server_config.check_server_config)
    assert "KV_FSYNC_INTERVAL (from env) is not a variable the server reads" in errors(r)


def test_check_config_in_a_pod_is_an_error(loaded):
    r = run(mutated(loaded, *CACHE, lambda o: set_env(o, "KV_CHECK_CONFIG", "1")),
            server_config.check_server_config)
    assert "exit instead of serving" in errors(r)


def test_values_only_the_pod_knows_are_left_out(loaded):
    def pod_ip(obj):
        container(obj)["env"].append(
            {"name": "KV_BIND", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    r = run(mutated(loaded, *CACHE, pod_ip), server_config.check_server_config)
    assert not errors(r)
    assert any("KV_BIND (from fieldRef status.podIP) is known only in the pod" in n
               for n in r.notes)


def test_password_from_a_secret_gets_a_stand_in(loaded):
    def secret(obj):
        container(obj)["env"].append({"name": "KV_PASSWORD", "valueFrom": {
            "secretKeyRef": {"name": "data-bridge-kv-auth", "key": "password"}}})
    ctx = mutated(loaded, *CACHE, secret)
    assert not errors(run(ctx, server_config.check_server_config))
    assert invocation(ctx, *CACHE).env["KV_PASSWORD"] == server_config.STAND_IN_PASSWORD


# --- TLS files from a Secret ---------------------------------------------------------------

TLS_SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "data-bridge-kv-tls"},
              "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": "", "ca.crt": ""}}
TLS_KEYS = {"KV_TLS_CERT": "tls.crt", "KV_TLS_KEY": "tls.key", "KV_TLS_CA": "ca.crt"}


def with_tls(*names: str):
    def change(obj):
        container(obj)["volumeMounts"].append(
            {"name": "tls", "mountPath": "/etc/data-bridge-kv/tls", "readOnly": True})
        obj["spec"]["template"]["spec"]["volumes"].append(
            {"name": "tls", "secret": {"secretName": "data-bridge-kv-tls"}})
        for name in names:
            set_env(obj, name, f"/etc/data-bridge-kv/tls/{TLS_KEYS[name]}")
    return change


@pytest.mark.parametrize(("names", "mode"), [
    (("KV_TLS_CERT", "KV_TLS_KEY"), "(TLS)"),
    (("KV_TLS_CERT", "KV_TLS_KEY", "KV_TLS_CA"), "(mutual TLS)"),
])
def test_tls_from_a_secret_passes(loaded, names, mode):
    if server_config.STAND_INS.tls_files() is None:
        pytest.skip("no openssl for the stand-in certificate")
    ctx = mutated(loaded, *STORE, with_tls(*names), (TLS_SECRET,))
    r = run(ctx, server_config.check_server_config, podfiles.check_pod_files)
    assert not errors(r)
    assert any(f"bind 0.0.0.0:7379 {mode}" in n for n in r.notes)


def test_tls_cert_without_key_is_refused_by_the_server(loaded):
    if server_config.STAND_INS.tls_files() is None:
        pytest.skip("no openssl for the stand-in certificate")
    ctx = mutated(loaded, *STORE, with_tls("KV_TLS_CERT"), (TLS_SECRET,))
    files = server_config.STAND_INS.tls_files()
    assert files is not None
    e = errors(run(ctx, server_config.check_server_config))
    assert server_says(loaded, {"KV_TLS_CERT": files["tls-cert"]}) in e


def test_tls_files_must_come_from_a_secret(loaded):
    no_secret = mutated(loaded, *STORE, with_tls("KV_TLS_CERT", "KV_TLS_KEY"))
    assert "Secret 'data-bridge-kv-tls' is not defined" in errors(
        run(no_secret, workloads.check_workloads))
    no_key = mutated(loaded, *STORE, with_tls("KV_TLS_CERT", "KV_TLS_KEY"), (
        dict(TLS_SECRET, data={"tls.crt": ""}),))
    assert "KV_TLS_KEY /etc/data-bridge-kv/tls/tls.key: the Secret volume tls has no file " \
        "'tls.key'" in errors(run(no_key, podfiles.check_pod_files))
    elsewhere = mutated(loaded, *STORE, lambda o: set_env(o, "KV_TLS_CA", "/etc/ca.pem"))
    assert "KV_TLS_CA /etc/ca.pem is not on a Secret or ConfigMap volume" in errors(
        run(elsewhere, podfiles.check_pod_files))


# --- plugins: the image's path, the file built here ----------------------------------------


def test_plugin_in_the_image_is_loaded_from_the_build(loaded):
    ctx = mutated(loaded, *CACHE, lambda o: set_env(o, "KV_PLUGIN", PLUGIN))
    assert not errors(run(ctx, podfiles.check_pod_files))
    inv = invocation(ctx, *CACHE)
    host, why = server_config.host_plugin(ctx, container(ctx.find(*CACHE).obj), PLUGIN)
    if host is None:
        assert "KV_PLUGIN" not in inv.env and why in inv.left_out
    else:
        assert inv.env["KV_PLUGIN"] == host and Path(host).name == "throttle.so"
        assert os.path.isfile(host)


def test_plugin_not_in_the_image_is_an_error(loaded):
    ctx = mutated(loaded, *CACHE, lambda o: set_env(o, "KV_PLUGIN", "/opt/plugins/x.so"))
    assert "plugin /opt/plugins/x.so is neither a file the image installs" in errors(
        run(ctx, podfiles.check_pod_files))
    assert not server_config.build_invocation(
        ctx, ctx.find(*CACHE), container(ctx.find(*CACHE).obj), [],
        podenv.effective_env(ctx, ctx.find(*CACHE), container(ctx.find(*CACHE).obj),
                             Report())).env.get("KV_PLUGIN")


# --- the command line ----------------------------------------------------------------------


def test_without_command_the_images_entrypoint_and_cmd_apply(loaded):
    def image_default(obj):
        del container(obj)["command"]
    ctx = mutated(loaded, *CACHE, image_default)
    c = container(ctx.find(*CACHE).obj)
    assert podenv.server_args(ctx, c) == ["--bind", "0.0.0.0:7379", "--http-bind", "0.0.0.0:7380"]
    c["args"] = ["--eviction", "allkeys-lru"]
    assert podenv.server_args(ctx, c) == ["--eviction", "allkeys-lru"]


def test_rewrite_args():
    def up(flag: str, value: str) -> str | None:
        return None if value == "drop" else value.upper()
    assert server_config.rewrite_args(
        ["--data-dir", "/d", "--fsync", "always", "--plugin", "a", "drop", "b", "--tls-ca=c",
         "--plugin=drop", "--tls-key", "drop"], up) == [
        "--data-dir", "/D", "--fsync", "always", "--plugin", "A", "B", "--tls-ca=C"]


# --- reading the binary --------------------------------------------------------------------


def test_parse_help():
    help_text = """Every flag can also be set from the environment as KV_<FLAG> (e.g. KV_BIND).
Options:
  -h,--help                       Print this help message and exit
  --bind TEXT=127.0.0.1:7379 (Env:KV_BIND)
  --io-threads UINT:INT in [0 - 64]=0 (Env:KV_IO_THREADS)
  --password-file TEXT (Env:KV_PASSWORD_FILE)
                                  a file (env KV_PASSWORD gives the password itself)
  --check-config (Env:KV_CHECK_CONFIG)
"""
    defaults, env_names = parse_help(help_text)
    assert defaults == {"bind": "127.0.0.1:7379", "io-threads": "0", "password-file": None,
                        "check-config": None}
    assert env_names == {"KV_BIND", "KV_IO_THREADS", "KV_PASSWORD_FILE", "KV_PASSWORD",
                         "KV_CHECK_CONFIG"}


def test_the_real_help(loaded):
    assert {"KV_BIND", "KV_FSYNC", "KV_DATA_DIR", "KV_PASSWORD"} <= loaded.server.env_names
    assert "shutdown-timeout-ms" in loaded.server.defaults


def test_summary_fields():
    ok = CheckResult(True, "bind 0.0.0.0:7379 (mutual TLS), http none, data in /d (fsync "
                           "always), 58 commands with plugins throttle, max memory 1048576 bytes")
    assert (ok.bind, ok.http_bind, ok.max_memory) == ("0.0.0.0:7379", "none", 1048576)
    assert CheckResult(True, "bind [::]:1, http [::]:2, memory only, max memory unlimited"
                       ).max_memory == 0
    assert CheckResult(False, "bind 1:1, http 1:2").bind is None


# --- the command line of validate.py -------------------------------------------------------


def test_missing_binary_is_an_error_and_no_binary_a_skip(capsys):
    assert cli.main(["--server", "/nonexistent/data-bridge-kv-server", "-q"]) == 1
    assert "no server binary at /nonexistent/data-bridge-kv-server" in capsys.readouterr().out
    assert cli.main(["--no-binary"]) == 0
    assert "NOT CHECKED (--no-binary)" in capsys.readouterr().out
