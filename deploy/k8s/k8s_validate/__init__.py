"""Offline checks of the Kubernetes manifests in deploy/k8s (validate.py is the command line).

findings      Finding, Report
server_binary the server binary: --help, --check-config and its verdict
manifests     the documents, kustomization.yaml, Dockerfile and server, as a Context
pods, podenv  reading pod templates; a container's command line and environment
server_config each server container's settings, judged by --check-config (with stand-ins)
podfiles      the files the server reads in the pod, against the volumes that hold them
workloads     probes, resources, addresses, password, memory, mode, shutdown, threads
security      the restricted Pod Security Standard
objects       documents, kustomization.yaml, Services, ServiceMonitor, PDBs
dockerfile    the image against the manifests and scripts/setup.sh
runtime_libs  RUNTIME_PACKAGES against the libraries the built binaries load
cli           ALL_CHECKS, run_checks, main
"""
