package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/internal/config"
	"github.com/eddy-sh/eddy/serve"
)

// k8sProbe is a container probe of the Deployment.
type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// k8sDeployment is the part of deploy/kubernetes/deployment.yaml the test reads.
type k8sDeployment struct {
	Spec struct {
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
					Env  []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					ReadinessProbe k8sProbe `yaml:"readinessProbe"`
					LivenessProbe  k8sProbe `yaml:"livenessProbe"`
					VolumeMounts   []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readManifest(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestDeployKubernetes: deploy/kubernetes runs the eddy serve of this tree.
// The Deployment's arguments are flags eddy serve has; the ConfigMap's
// serve.yaml and config.yaml pass eddy's own loaders (unknown keys are
// errors) and every cluster resolves to a context, as at start; eddy listens
// on every interface on the port the Service and the ServiceMonitor scrape;
// the probes ask /readyz and /healthz.
func TestDeployKubernetes(t *testing.T) {
	var cm struct {
		Metadata struct{ Name string } `yaml:"metadata"`
		Data     map[string]string     `yaml:"data"`
	}
	readManifest(t, "configmap.yaml", &cm)
	var d k8sDeployment
	readManifest(t, "deployment.yaml", &d)
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("deployment.yaml: %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The ConfigMap's files, where the pod mounts them, are in dir here.
	mount := ""
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					mount = m.MountPath
				}
			}
		}
	}
	if mount == "" {
		t.Fatalf("deployment.yaml mounts no ConfigMap %s", cm.Metadata.Name)
	}
	dir := t.TempDir()
	for name, text := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	local := func(what, p string) string {
		rel, ok := strings.CutPrefix(p, mount+"/")
		if !ok || cm.Data[rel] == "" {
			t.Fatalf("deployment.yaml: %s %s is not a file of the ConfigMap mounted at %s", what, p, mount)
		}
		return filepath.Join(dir, rel)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["EDDY_CONFIG"] == "" {
		t.Fatal("deployment.yaml: no EDDY_CONFIG: the contexts of config.yaml would not be found")
	}
	eddyConfig := local("EDDY_CONFIG", env["EDDY_CONFIG"])
	if _, err := config.Load(eddyConfig); err != nil {
		t.Fatalf("configmap.yaml config.yaml: %v", err)
	}

	// The arguments, through eddy serve's own flags.
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("deployment.yaml: args %q do not run eddy serve", c.Args)
	}
	args := slices.Clone(c.Args[1:])
	for i := range args {
		if i > 0 && args[i-1] == "--config" {
			args[i] = local("--config", args[i])
		}
	}
	f, _, _ := testFactory(false)
	f.Getenv = func(k string) string {
		if k == "EDDY_CONFIG" {
			return eddyConfig
		}
		return ""
	}
	var o *ServeOptions
	cmd := newCmdServe(f, func(_ context.Context, got *ServeOptions) error { o = got; return nil })
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("eddy serve %s: %v", strings.Join(c.Args[1:], " "), err)
	}
	if o.Config == "" {
		t.Fatal("deployment.yaml: no --config")
	}

	// What serveRun checks before it connects anywhere.
	file, err := serve.LoadConfig(o.Config)
	if err != nil {
		t.Fatalf("configmap.yaml serve.yaml: %v", err)
	}
	o.merge(file)
	if _, err := file.FlowDefs("serve.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := file.Rules("serve.yaml"); err != nil {
		t.Fatal(err)
	}
	from, err := bus.ParseFrom(o.From, f.Now())
	if err != nil {
		t.Fatalf("serve.yaml: from: %v", err)
	}
	if len(file.Clusters) == 0 || len(file.Flows) == 0 || len(file.Expect) == 0 {
		t.Fatalf("serve.yaml: %d clusters, %d flows, %d rules; the example shows each", len(file.Clusters), len(file.Flows), len(file.Expect))
	}
	for _, cc := range file.Clusters {
		if cc.Context == "" {
			t.Errorf("serve.yaml: cluster %s names no context", cc.Name)
		}
		if _, err := serveCluster(f, cc, from); err != nil {
			t.Errorf("serve.yaml: cluster %s: %v", cc.Name, err)
		}
	}

	// Reachable from outside the pod, on the port the Service targets.
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		t.Fatalf("listen %q: %v", o.Listen, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("eddy serve listens on %s: the kubelet and Prometheus cannot reach it outside the pod", o.Listen)
	}
	if len(c.Ports) != 1 || strconv.Itoa(c.Ports[0].ContainerPort) != port {
		t.Fatalf("deployment.yaml: container ports %+v; eddy listens on %s", c.Ports, o.Listen)
	}
	portName := c.Ports[0].Name
	for path, p := range map[string]k8sProbe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port != portName {
			t.Errorf("deployment.yaml: probe %+v; want GET %s on port %s", p.HTTPGet, path, portName)
		}
	}

	var svc struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	readManifest(t, "service.yaml", &svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != portName {
		t.Errorf("service.yaml: ports %+v; want targetPort %s", svc.Spec.Ports, portName)
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("service.yaml: selector %s=%s matches no pod of deployment.yaml", k, v)
		}
	}
	var sm struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Endpoints []struct {
				Port string `yaml:"port"`
				Path string `yaml:"path"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	readManifest(t, "servicemonitor.yaml", &sm)
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("servicemonitor.yaml: endpoints %+v; want /metrics on the Service's port %s", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Metadata.Labels[k] != v {
			t.Errorf("servicemonitor.yaml: selector %s=%s does not match service.yaml", k, v)
		}
	}
}
