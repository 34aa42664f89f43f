"""Every manifest in deploy/k8s against the Kubernetes OpenAPI schemas, offline.

kubernetes-validate (PyPI) carries the JSON schemas of each Kubernetes release in the package,
so nothing is downloaded. Validation is strict: an unknown or misspelt field is an error, as
`kubectl apply --validate=strict` would make it. This complements validate.py, which checks
what a schema cannot (flags against the server, probes against its ports, memory against
--max-memory ...).

    python -m pytest -q deploy/k8s/test_schemas.py

The ServiceMonitor is a custom resource (the Prometheus Operator's CRD): no Kubernetes schema
covers it, so validate.py's own ServiceMonitor checks are what check it.
"""
from __future__ import annotations

import base64
import copy
import hashlib
from pathlib import Path
from typing import List, Tuple

import kubernetes_validate
import pytest
import yaml

HERE = Path(__file__).resolve().parent

# An older Kubernetes release, one in the middle, and the newest the package knows: an API
# removed or a field renamed in any of them shows up.
VERSIONS = ["1.31", "1.34", kubernetes_validate.latest_version()]
# Custom resources: no schema in Kubernetes' OpenAPI.
CUSTOM_GROUPS = ("monitoring.coreos.com/",)


def kustomization() -> dict:
    return yaml.safe_load((HERE / "kustomization.yaml").read_text())


def generated_secrets() -> List[dict]:
    """The Secrets kustomize makes from secretGenerator (the password file is never committed:
    a stand-in content, the same shape)."""
    out = []
    for gen in kustomization().get("secretGenerator", []):
        data = {}
        for entry in gen.get("files", []):
            key = entry.split("=", 1)[0] if "=" in entry else Path(entry).name
            data[key] = base64.b64encode(b"0123456789abcdef").decode()
        suffix = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:10]
        out.append({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": f"{gen['name']}-{suffix}",
                                 "labels": gen.get("options", {}).get("labels", {})},
                    "type": gen.get("type", "Opaque"), "data": data})
    return out


def documents() -> List[Tuple[str, dict]]:
    """(where, object) for every document of every file kustomization.yaml lists, and the
    generated Secrets."""
    docs = []
    for name in kustomization()["resources"]:
        for i, obj in enumerate(yaml.safe_load_all((HERE / name).read_text())):
            if obj is not None:
                docs.append((f"{name}[{i}] {obj.get('kind')}/{obj['metadata']['name']}", obj))
    for secret in generated_secrets():
        docs.append((f"secretGenerator Secret/{secret['metadata']['name']}", secret))
    return docs


def schema_errors(obj: dict, version: str) -> str:
    """'' if obj is valid for that Kubernetes version, else why not."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        return f"{'.'.join(str(p) for p in e.path)}: {e.message}"
    return ""


def test_every_listed_file_has_documents():
    assert len(documents()) >= 10


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("where,obj", documents(), ids=lambda x: x if isinstance(x, str) else "")
def test_manifest_matches_the_kubernetes_schema(where, obj, version):
    if obj["apiVersion"].startswith(CUSTOM_GROUPS):
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(obj, version, strict=True)
        return
    assert not schema_errors(obj, version), f"{where} (Kubernetes {version}): " + \
        schema_errors(obj, version)


def test_only_custom_resources_lack_a_schema():
    kinds = {(o["apiVersion"], o["kind"]) for _, o in documents()}
    custom = {k for k in kinds if k[0].startswith(CUSTOM_GROUPS)}
    assert custom == {("monitoring.coreos.com/v1", "ServiceMonitor")}
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "PodDisruptionBudget",
            "Secret"} <= {k for _, k in kinds - custom}


# --- the schemas catch what they are meant to (manifests broken on purpose, in memory) ------


def broken(kind: str, change) -> dict:
    obj = copy.deepcopy(next(o for _, o in documents() if o["kind"] == kind))
    change(obj)
    return obj


def container(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]["containers"][0]


def test_a_misspelt_field_is_an_error():
    obj = broken("Deployment", lambda o: container(o).update(
        {"livenesProbe": container(o)["livenessProbe"]}))
    assert "livenesProbe" in schema_errors(obj, VERSIONS[0])


def test_a_wrong_type_is_an_error():
    obj = broken("StatefulSet", lambda o: o["spec"].update(replicas="one"))
    assert "replicas" in schema_errors(obj, VERSIONS[0])


def test_a_probe_port_must_be_a_number_or_a_name():
    def change(o):
        container(o)["readinessProbe"]["httpGet"]["port"] = {"number": 7380}
    assert "port" in schema_errors(broken("Deployment", change), VERSIONS[0])


def test_a_removed_api_version_is_not_found():
    obj = broken("PodDisruptionBudget", lambda o: o.update(apiVersion="policy/v1beta1"))
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(obj, VERSIONS[0], strict=True)
