// Manifests the e2e tests and the operator benchmarks apply to the local cluster.

/** A StatefulSet of voice-agent pods with its headless Service. kwok runs no image. */
export function voiceAgentStatefulSet(name: string, replicas: number, labels: Record<string, string> = { app: 'voice-agent' }): string {
  const labelYaml = Object.entries(labels).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
  return `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  clusterIP: None
  selector: { ${labelYaml} }
  ports: [{ name: ws, port: 8080 }]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: ${name} }
spec:
  serviceName: ${name}
  replicas: ${replicas}
  podManagementPolicy: Parallel
  selector: { matchLabels: { ${labelYaml} } }
  template:
    metadata: { labels: { ${labelYaml} } }
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: agent
          image: voice-agent:test
          ports: [{ containerPort: 8080, name: ws }]
`;
}
