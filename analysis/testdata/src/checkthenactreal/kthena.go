package checkthenactreal

import "sync"

// From volcano-sh/kthena, pkg/kthena-router/datastore/store.go, reported
// in https://github.com/volcano-sh/kthena/issues/1196 ("Data race in
// AddOrUpdateModelServer and AddOrUpdatePod due to check-then-act
// sync.Map pattern"; closed without a change). The existing-object
// branch takes modelServerObj.mutex, an unrelated per-object lock, and
// that Lock between the Load and the Store hid the check-then-act from
// checkthenact.

type ModelServer struct {
	Namespace, Name string
	Engine          string
}

type modelServer struct {
	mutex       sync.RWMutex
	modelServer *ModelServer
	pods        map[NamespacedName]bool
}

func newModelServer(ms *ModelServer) *modelServer {
	return &modelServer{modelServer: ms, pods: map[NamespacedName]bool{}}
}

type PodInfo struct {
	Pod         *Pod
	engine      string
	mutex       sync.RWMutex
	modelServer map[NamespacedName]bool
}

type Pod struct {
	Namespace, Name string
	Labels          map[string]string
}

type store struct {
	modelServer sync.Map // map[NamespacedName]*modelServer
	pods        sync.Map // map[NamespacedName]*PodInfo
}

func (s *store) AddOrUpdateModelServer(ms *ModelServer, pods map[NamespacedName]bool) error {
	name := NamespacedName{ms.Namespace, ms.Name}
	var modelServerObj *modelServer
	if value, ok := s.modelServer.Load(name); !ok {
		modelServerObj = newModelServer(ms)
		// New object — no concurrent access yet, safe to write without lock
		if len(pods) != 0 {
			modelServerObj.pods = pods
		}
	} else {
		modelServerObj = value.(*modelServer)
		// Existing object — concurrent readers may access modelServer and pods,
		// so we must hold the lock to prevent data races.
		modelServerObj.mutex.Lock()
		modelServerObj.modelServer = ms
		if len(pods) != 0 {
			modelServerObj.pods = pods
		}
		modelServerObj.mutex.Unlock()
	}
	s.modelServer.Store(name, modelServerObj) // want `Store of s.modelServer after a Load of the same key at line 48`
	return nil
}

func (s *store) AddOrUpdatePod(pod *Pod, modelServers []*ModelServer) error {
	podName := NamespacedName{pod.Namespace, pod.Name}
	newModelServers := map[NamespacedName]bool{}
	var engine string
	for _, ms := range modelServers {
		modelServerName := NamespacedName{ms.Namespace, ms.Name}
		newModelServers[modelServerName] = true
		engine = ms.Engine
	}
	if value, ok := s.pods.Load(podName); ok {
		// Update existing pod in place — preserve runtime metrics and models.
		oldPodInfo := value.(*PodInfo)
		oldPodInfo.mutex.Lock()
		oldPodInfo.Pod = pod
		oldPodInfo.engine = engine
		oldPodInfo.modelServer = newModelServers
		oldPodInfo.mutex.Unlock()
		return nil
	}
	newPodInfo := &PodInfo{Pod: pod, engine: engine, modelServer: newModelServers}
	s.pods.Store(podName, newPodInfo) // want `Store of s.pods after a Load of the same key at line 78`
	return nil
}

// AddOrUpdateModelServerFixed is the change the issue proposed: one
// LoadOrStore decides which object is the map's.
func (s *store) AddOrUpdateModelServerFixed(ms *ModelServer, pods map[NamespacedName]bool) error {
	name := NamespacedName{ms.Namespace, ms.Name}
	fresh := newModelServer(ms)
	if len(pods) != 0 {
		fresh.pods = pods
	}
	value, loaded := s.modelServer.LoadOrStore(name, fresh)
	if !loaded {
		return nil
	}
	modelServerObj := value.(*modelServer)
	modelServerObj.mutex.Lock()
	modelServerObj.modelServer = ms
	if len(pods) != 0 {
		modelServerObj.pods = pods
	}
	modelServerObj.mutex.Unlock()
	return nil
}

func (s *store) AddOrUpdatePodFixed(pod *Pod, engine string, modelServers map[NamespacedName]bool) error {
	podName := NamespacedName{pod.Namespace, pod.Name}
	value, loaded := s.pods.LoadOrStore(podName, &PodInfo{Pod: pod, engine: engine, modelServer: modelServers})
	if !loaded {
		return nil
	}
	oldPodInfo := value.(*PodInfo)
	oldPodInfo.mutex.Lock()
	oldPodInfo.Pod = pod
	oldPodInfo.engine = engine
	oldPodInfo.modelServer = modelServers
	oldPodInfo.mutex.Unlock()
	return nil
}
