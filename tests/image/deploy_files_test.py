#!/usr/bin/env python3
"""The deployment files agree with each other and with livegate: compose, Kubernetes, systemd, configs.

No container daemon or cluster exists in CI, so this checks what can be checked without one: the YAML
parses, every file a manifest names exists, ports, probes, the config path and the user are the same in
the Dockerfile, compose.yaml, deploy/k8s/ and the systemd unit, the compose edge fills exactly the
variables deploy/nginx-edge.conf asks for, the unit passes `systemd-analyze verify`, and livegate
starts with each shipped config file.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import yaml
except ImportError:
    # Debian's python3-yaml (deploy/install-deps.sh test) loads under Debian's python3.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    raise

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402
import rootfs_test  # noqa: E402  (its Dockerfile reader)

CONFIG_PATH = "/etc/livegate/config.json"


def load_yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def dockerfile_image():
    stage = rootfs_test.runtime_stage(os.path.join(DEPLOY, "Dockerfile"))
    out = {"expose": [], "user": None, "cmd": [], "healthcheck": ""}
    for word, rest in stage.steps:
        if word == "EXPOSE":
            out["expose"] += [int(p) for p in rest.split()]
        elif word == "USER":
            out["user"] = rest
        elif word == "CMD":
            out["cmd"] = json.loads(rest)
        elif word == "HEALTHCHECK":
            out["healthcheck"] = rest
    return out


def template_variables():
    """The variables deploy/nginx-edge.conf's first line lists for envsubst."""
    with open(os.path.join(DEPLOY, "nginx-edge.conf")) as f:
        first = f.readline()
    return set(re.findall(r"\$\{(\w+)\}", first))


class Compose(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(DEPLOY, "compose.yaml")) as f:
            self.compose = yaml.safe_load(f)
        self.origin = self.compose["services"]["origin"]
        self.edge = self.compose["services"]["edge"]

    def test_origin_is_built_from_the_dockerfile_at_the_repo_root(self):
        context = os.path.normpath(os.path.join(DEPLOY, self.origin["build"]["context"]))
        self.assertEqual(context, REPO)
        self.assertTrue(os.path.isfile(os.path.join(context, self.origin["build"]["dockerfile"])))

    def test_every_mounted_file_exists(self):
        for service in self.compose["services"].values():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("."):
                    with self.subTest(volume=volume):
                        self.assertTrue(os.path.isfile(os.path.join(DEPLOY, source)), source)
                else:
                    self.assertIn(source, self.compose.get("volumes", {}), "a named volume is declared")

    def test_origin_config_is_mounted_where_the_image_reads_it(self):
        targets = {v.split(":")[1]: v.split(":")[0] for v in self.origin["volumes"]}
        self.assertIn(CONFIG_PATH, targets)
        self.assertEqual(dockerfile_image()["cmd"], ["--config", CONFIG_PATH])
        self.assertTrue(all(k.startswith("LIVEGATE_") for k in self.origin.get("environment", {})))

    def test_edge_runs_the_edge_config_of_the_tests(self):
        mounts = {v.split(":")[0]: v.split(":")[1] for v in self.edge["volumes"]}
        self.assertIn("./nginx-edge.conf", mounts)
        command = " ".join(self.edge["command"])
        # compose turns $$ into $; the command must fill the template it mounted, all of its variables
        # and no others, each given a value.
        substituted = set(re.findall(r"\$\$\{(\w+)\}", command))
        self.assertEqual(substituted, template_variables())
        self.assertIn(mounts["./nginx-edge.conf"], command)
        self.assertEqual(set(self.edge["environment"]), template_variables())
        origin_host, origin_port = self.edge["environment"]["ORIGIN"].split(":")
        self.assertEqual(origin_host, "origin")
        self.assertIn(int(origin_port), dockerfile_image()["expose"])
        # service_healthy needs the image's HEALTHCHECK.
        self.assertEqual(self.edge["depends_on"]["origin"]["condition"], "service_healthy")
        self.assertIn("/healthz", dockerfile_image()["healthcheck"])

    def test_published_ports_are_the_image_ports(self):
        published = [int(p.split(":")[-1]) for p in self.origin["ports"]]
        self.assertTrue(set(published) <= set(dockerfile_image()["expose"]), published)


class Kubernetes(unittest.TestCase):
    def setUp(self):
        self.objects = {}
        for path in sorted(os.listdir(os.path.join(DEPLOY, "k8s"))):
            self.assertTrue(path.endswith(".yaml"), path)
            for doc in load_yaml_docs(os.path.join(DEPLOY, "k8s", path)):
                self.assertIn("apiVersion", doc)
                self.objects[(doc["kind"], doc["metadata"]["name"])] = doc
        self.deployment = self.objects[("Deployment", "livegate")]
        self.pod = self.deployment["spec"]["template"]["spec"]
        self.container = self.pod["containers"][0]

    def test_service_exposes_rtmp_and_http_of_the_pods(self):
        service = self.objects[("Service", "livegate")]
        self.assertEqual(service["spec"]["selector"], self.deployment["spec"]["selector"]["matchLabels"])
        self.assertEqual(self.deployment["spec"]["selector"]["matchLabels"].items()
                         - self.deployment["spec"]["template"]["metadata"]["labels"].items(), set())
        ports = {p["name"]: p for p in service["spec"]["ports"]}
        self.assertEqual(set(ports), {"rtmp", "http"}, "the admin listener stays inside the pod")
        self.assertEqual((ports["rtmp"]["port"], ports["rtmp"]["protocol"]), (1935, "TCP"))
        self.assertEqual(ports["http"]["port"], 8080)
        container_ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        for p in ports.values():
            self.assertIn(p["targetPort"], container_ports)
        self.assertEqual(set(container_ports.values()), set(dockerfile_image()["expose"]))

    def test_probes_ask_healthz_on_the_http_port(self):
        for probe in ("readinessProbe", "livenessProbe"):
            with self.subTest(probe=probe):
                get = self.container[probe]["httpGet"]
                self.assertEqual(get["path"], "/healthz")
                self.assertEqual(get["port"], "http")

    def test_config_comes_from_the_configmap_where_the_image_reads_it(self):
        mount = next(m for m in self.container["volumeMounts"] if CONFIG_PATH.startswith(m["mountPath"] + "/"))
        volume = next(v for v in self.pod["volumes"] if v["name"] == mount["name"])
        config_map = self.objects[("ConfigMap", volume["configMap"]["name"])]
        self.assertIn(os.path.basename(CONFIG_PATH), config_map["data"])
        self.assertEqual(self.container["args"], ["--config", CONFIG_PATH])
        for env in self.container.get("env", []):
            self.assertTrue(env["name"].startswith("LIVEGATE_"), env["name"])

    def test_runs_as_the_image_user_without_privileges(self):
        uid, gid = (int(x) for x in dockerfile_image()["user"].split(":"))
        security = self.pod["securityContext"]
        self.assertTrue(security["runAsNonRoot"])
        self.assertEqual((security["runAsUser"], security["runAsGroup"]), (uid, gid))
        container = self.container["securityContext"]
        self.assertFalse(container["allowPrivilegeEscalation"])
        self.assertTrue(container["readOnlyRootFilesystem"])
        self.assertEqual(container["capabilities"]["drop"], ["ALL"])
        self.assertIn("memory", self.container["resources"]["limits"])


class ShippedConfigs(unittest.TestCase):
    def configs(self):
        with open(os.path.join(DEPLOY, "livegate.json")) as f:
            yield "deploy/livegate.json", f.read()
        for path in sorted(os.listdir(os.path.join(DEPLOY, "k8s"))):
            for doc in load_yaml_docs(os.path.join(DEPLOY, "k8s", path)):
                if doc["kind"] == "ConfigMap" and os.path.basename(CONFIG_PATH) in doc["data"]:
                    yield f"deploy/k8s/{path}", doc["data"][os.path.basename(CONFIG_PATH)]

    def test_livegate_starts_with_each(self):
        seen = 0
        for name, text in self.configs():
            with self.subTest(config=name):
                seen += 1
                lg = harness.Livegate(config=json.loads(text))  # raises unless /healthz answers
                self.assertEqual(lg.stop(), 0)
                self.assertNotIn("unknown key", lg.log_text())
        self.assertEqual(seen, 2)


class Systemd(unittest.TestCase):
    def test_unit_verifies_and_runs_livegate_with_the_config(self):
        with open(os.path.join(DEPLOY, "livegate.service")) as f:
            unit = f.read()
        exec_start = re.search(r"^ExecStart=(\S+) (.*)$", unit, re.M)
        self.assertEqual(exec_start.group(2).split(), ["--config", CONFIG_PATH])
        self.assertRegex(unit, r"(?m)^Restart=on-failure$")
        self.assertRegex(unit, r"(?m)^(DynamicUser=yes|User=\w+)$")
        self.assertRegex(unit, r"(?m)^ProtectSystem=strict$")
        self.assertRegex(unit, r"(?m)^NoNewPrivileges=yes$")
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze is not installed")
        # verify wants the ExecStart binary to exist: point it at the one under test.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "livegate.service")
            with open(path, "w") as f:
                f.write(unit.replace(f"ExecStart={exec_start.group(1)} ", f"ExecStart={harness.LIVEGATE} "))
            r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            # Unknown or invalid settings are only warned about ("..., ignoring"), not errors.
            self.assertNotIn("ignoring", r.stderr)
            self.assertNotIn("Unknown", r.stderr)


if __name__ == "__main__":
    harness.main()
