package unsyncmapreal

import (
	"context"
	"sync"

	"unsyncmapreal/prometheus"
)

// CheerlessCloud/cexporter, collector/{collector,export,metrics_type,
// unactual_labels_garbage_collector}.go at f4771d9^: FetchMetrics starts
// one goroutine per container; each calls
// ContainerMetrics.ExportToRegistry -> exportToRegistry ->
// markMetricAsActualInCollectItration / rememberMetricLabels, which
// delete from and write to the package-level maps labelsToDelete and
// rememberedMetricLabels, three calls below the go statement: fatal
// error: concurrent map writes,
// https://github.com/CheerlessCloud/cexporter/issues/2. The fix
// (f4771d9) puts an RWMutex beside each map, taken in both helpers
// (FetchMetricsFixed below).

type dockerContainer struct {
	ID    string
	Names []string
	State string
}

// ContainerMetrics is what is exported for one container.
type ContainerMetrics struct {
	ID     string
	Name   string
	Image  string
	Labels map[string]string
	State  int32
}

var (
	rememberedMetricLabels = make(map[string]prometheus.Labels)
	labelsToDelete         = make(map[string]prometheus.Labels)
	cpuUsageRatio          = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cpu_usage_ratio"}, nil)
	containerLabelsList    []string
)

func rememberMetricLabels(containerID string, labels prometheus.Labels) {
	rememberedMetricLabels[containerID] = labels
}

func markMetricAsActualInCollectItration(containerID string) {
	delete(labelsToDelete, containerID)
}

func exportToRegistry(metrics *ContainerMetrics) {
	labels := prometheus.Labels{
		"container_id":   metrics.ID[:12],
		"container_name": metrics.Name,
		"image":          metrics.Image,
	}
	for _, label := range containerLabelsList {
		labels["label_"+label] = metrics.Labels[label]
	}
	markMetricAsActualInCollectItration(metrics.ID)
	rememberMetricLabels(metrics.ID, labels)
	cpuUsageRatio.With(labels).Set(1)
}

// ExportToRegistry exports m.
func (m *ContainerMetrics) ExportToRegistry() {
	exportToRegistry(m)
}

func fetchContainerMetrics(ctx context.Context, container dockerContainer) (*ContainerMetrics, error) {
	return &ContainerMetrics{ID: container.ID, Name: container.Names[0][1:], State: 2}, nil
}

// FetchMetrics fetches the metrics of all containers.
func FetchMetrics(ctx context.Context, containers []dockerContainer) {
	var wg sync.WaitGroup
	wg.Add(len(containers))
	for _, container := range containers {
		go func(container dockerContainer) { // want `go statement in a loop: each goroutine writes labelsToDelete \(line \d+\) with no lock`
			defer wg.Done()
			if containerMetrics, err := fetchContainerMetrics(ctx, container); err == nil && containerMetrics != nil {
				containerMetrics.ExportToRegistry()
			}
		}(container)
	}
	wg.Wait()
}

var (
	rememberedMetricLabelsFixed = make(map[string]prometheus.Labels)
	rememberedMetricLabelsMutex = sync.RWMutex{}
	labelsToDeleteFixed         = make(map[string]prometheus.Labels)
	labelsToDeleteMutex         = sync.RWMutex{}
)

func rememberMetricLabelsFixed(containerID string, labels prometheus.Labels) {
	rememberedMetricLabelsMutex.Lock()
	rememberedMetricLabelsFixed[containerID] = labels
	rememberedMetricLabelsMutex.Unlock()
}

func markMetricAsActualFixed(containerID string) {
	labelsToDeleteMutex.Lock()
	delete(labelsToDeleteFixed, containerID)
	labelsToDeleteMutex.Unlock()
}

func exportToRegistryFixed(metrics *ContainerMetrics) {
	labels := prometheus.Labels{"container_id": metrics.ID[:12]}
	markMetricAsActualFixed(metrics.ID)
	rememberMetricLabelsFixed(metrics.ID, labels)
	cpuUsageRatio.With(labels).Set(1)
}

// FetchMetricsFixed is FetchMetrics after the fix.
func FetchMetricsFixed(ctx context.Context, containers []dockerContainer) {
	var wg sync.WaitGroup
	wg.Add(len(containers))
	for _, container := range containers {
		go func(container dockerContainer) {
			defer wg.Done()
			if containerMetrics, err := fetchContainerMetrics(ctx, container); err == nil && containerMetrics != nil {
				exportToRegistryFixed(containerMetrics)
			}
		}(container)
	}
	wg.Wait()
}
