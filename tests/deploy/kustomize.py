"""The part of kustomize that k8s/ uses, so the tests need no kubectl.

Supported, and nothing else (an unknown field fails loudly, so a manifest
change that needs more makes the tests say so):
  resources (files and folders with a kustomization.yaml), namespace,
  images (name -> newName/newTag/digest), patches whose inline patch is a
  strategic-merge `$patch: delete` of one object.
When kubectl is installed, test_deploy_k8s.py also checks this output against
`kubectl kustomize`.
"""
from pathlib import Path

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
    "CustomResourceDefinition", "PriorityClass", "IngressClass",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class KustomizeError(Exception):
    pass


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def key(obj):
    meta = obj.get("metadata", {})
    return (obj.get("kind"), meta.get("namespace"), meta.get("name"))


def build(folder):
    folder = Path(folder)
    kfile = folder / "kustomization.yaml"
    if not kfile.is_file():
        raise KustomizeError(f"{folder}: no kustomization.yaml")
    spec = load_yaml_docs(kfile)[0]
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{kfile}: fields this test kustomize does not implement: {sorted(unknown)}")
    objects = []
    for entry in spec.get("resources", []):
        target = (folder / entry).resolve()
        if target.is_dir():
            objects.extend(build(target))
        elif target.is_file():
            objects.extend(load_yaml_docs(target))
        else:
            raise KustomizeError(f"{kfile}: resource {entry} not found")
    seen = set()
    for obj in objects:
        if key(obj) in seen:
            raise KustomizeError(f"{kfile}: {key(obj)} defined twice")
        seen.add(key(obj))
    if "namespace" in spec:
        for obj in objects:
            if obj.get("kind") not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for patch in spec.get("patches", []):
        objects = apply_delete_patch(kfile, patch, objects)
    for image in spec.get("images", []):
        set_image(objects, image)
    return objects


def apply_delete_patch(kfile, patch, objects):
    if set(patch) != {"patch"}:
        raise KustomizeError(f"{kfile}: only inline patches are implemented: {patch}")
    body = yaml.safe_load(patch["patch"])
    if body.get("$patch") != "delete":
        raise KustomizeError(f"{kfile}: only `$patch: delete` is implemented: {body}")
    meta = body.get("metadata", {})
    kept = [
        o for o in objects
        if not (o.get("kind") == body.get("kind") and o["metadata"].get("name") == meta.get("name")
                and ("namespace" not in meta or o["metadata"].get("namespace") == meta["namespace"]))
    ]
    if len(kept) != len(objects) - 1:
        raise KustomizeError(f"{kfile}: the delete patch of {body.get('kind')}/{meta.get('name')} matches no object")
    return kept


def containers_of(obj):
    if obj.get("kind") not in POD_TEMPLATE_KINDS:
        return []
    pod = obj["spec"]["template"]["spec"]
    return pod.get("initContainers", []) + pod.get("containers", [])


def split_image(ref):
    """("name", tag or None); a digest stays with the name."""
    if "@" in ref:
        return ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
        return name, tag
    return ref, None


def set_image(objects, image):
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise KustomizeError(f"images entry with unsupported fields {sorted(unknown)}")
    for obj in objects:
        for container in containers_of(obj):
            name, tag = split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
                continue
            tag = image.get("newTag", tag)
            container["image"] = f"{name}:{tag}" if tag else name
