package locksetreal

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// dailymotion-oss/osiris: two "concurrent map read and map write"
// crashes, each "just a missing lock around a read operation of the map".
//
// https://github.com/dailymotion-oss/osiris/pull/61
// (pkg/deployments/activator): handleRequest, an http handler, checks
// appActivations unlocked before the double-checked lookup that locks;
// the in-flight activation is added under appActivationsLock and deleted
// by a goroutine when it completes.
//
// https://github.com/dailymotion-oss/osiris/pull/62
// (pkg/endpoints/controller): syncActivatorPod, an informer callback,
// ranges over managers holding only readyActivatorPodsLock, while the
// service callbacks add and delete managers under managersLock.

// Stand-ins for the Kubernetes informer API the real code registers its
// callbacks with.
type ResourceEventHandlerFuncs struct {
	AddFunc    func(obj interface{})
	UpdateFunc func(oldObj, newObj interface{})
	DeleteFunc func(obj interface{})
}

type SharedIndexInformer interface {
	AddEventHandler(handler ResourceEventHandlerFuncs)
	Run(stopCh <-chan struct{})
}

type Pod struct{ Name, IP string }

type AppService struct{ Namespace, Name string }

type osirisApp struct {
	Namespace, Kind, Name string
	proxyRequestHandler   http.Handler
}

type appActivation struct {
	successCh chan struct{}
	timeoutCh chan struct{}
}

func getKey(namespace, kind, name string) string { return namespace + "/" + kind + "/" + name }

type activator struct {
	appsByHost           map[string]*osirisApp
	indicesLock          sync.RWMutex
	appActivations       map[string]*appActivation
	appActivationsLock   sync.Mutex
	appActivationTimeout time.Duration
	srv                  *http.Server
}

func NewActivator() *activator {
	mux := http.NewServeMux()
	a := &activator{
		appsByHost:           map[string]*osirisApp{},
		appActivations:       map[string]*appActivation{},
		appActivationTimeout: 5 * time.Minute,
		srv:                  &http.Server{Handler: mux},
	}
	mux.HandleFunc("/", a.handleRequest)
	return a
}

func (a *activator) activate(ctx context.Context, app *osirisApp) (*appActivation, error) {
	return &appActivation{successCh: make(chan struct{}), timeoutCh: make(chan struct{})}, ctx.Err()
}

func (a *activator) handleRequest(w http.ResponseWriter, r *http.Request) {
	a.indicesLock.RLock()
	app, ok := a.appsByHost[r.Host]
	a.indicesLock.RUnlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}

	var err error
	appKey := getKey(app.Namespace, app.Kind, app.Name)
	appActivation, ok := a.appActivations[appKey] // want `read of a.appActivations without a.appActivationsLock held`
	if !ok {
		func() {
			a.appActivationsLock.Lock()
			defer a.appActivationsLock.Unlock()
			// Another request may have started it while we waited.
			appActivation, ok = a.appActivations[appKey]
			if ok {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), a.appActivationTimeout)
			defer cancel()
			appActivation, err = a.activate(ctx, app)
			if err != nil {
				return
			}
			a.appActivations[appKey] = appActivation
			go func() {
				deleteActivation := func() {
					a.appActivationsLock.Lock()
					defer a.appActivationsLock.Unlock()
					delete(a.appActivations, appKey)
				}
				select {
				case <-appActivation.successCh:
					deleteActivation()
				case <-appActivation.timeoutCh:
					deleteActivation()
				}
			}()
		}()
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	select {
	case <-appActivation.successCh:
		app.proxyRequestHandler.ServeHTTP(w, r)
	case <-appActivation.timeoutCh:
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

type endpointsManager struct {
	readyAppPods     map[string]Pod
	readyAppPodsLock sync.Mutex
}

func (e *endpointsManager) run(ctx context.Context) { <-ctx.Done() }
func (e *endpointsManager) stop()                   {}

type controller struct {
	activatorPodsInformer  SharedIndexInformer
	servicesInformer       SharedIndexInformer
	readyActivatorPods     map[string]Pod
	readyActivatorPodsLock sync.Mutex
	managers               map[string]*endpointsManager
	managersLock           sync.Mutex
	ctx                    context.Context
}

func NewController(pods, services SharedIndexInformer) *controller {
	c := &controller{
		activatorPodsInformer: pods,
		servicesInformer:      services,
		readyActivatorPods:    map[string]Pod{},
		managers:              map[string]*endpointsManager{},
	}
	c.activatorPodsInformer.AddEventHandler(ResourceEventHandlerFuncs{
		AddFunc: c.syncActivatorPod,
		UpdateFunc: func(_, newObj interface{}) {
			c.syncActivatorPod(newObj)
		},
		DeleteFunc: c.syncActivatorPod,
	})
	c.servicesInformer.AddEventHandler(ResourceEventHandlerFuncs{
		AddFunc: c.syncAppService,
		UpdateFunc: func(_, newObj interface{}) {
			c.syncAppService(newObj)
		},
		DeleteFunc: c.syncDeletedAppService,
	})
	return c
}

func (c *controller) Run(ctx context.Context) {
	c.ctx = ctx
	go c.activatorPodsInformer.Run(ctx.Done())
	go c.servicesInformer.Run(ctx.Done())
	<-ctx.Done()
}

func (c *controller) syncAppService(obj interface{}) {
	if svc, ok := obj.(*AppService); ok {
		c.ensureServiceEndpointsManaged(svc)
	}
}

func (c *controller) syncDeletedAppService(obj interface{}) {
	if svc, ok := obj.(*AppService); ok {
		c.ensureServiceEndpointsNotManaged(svc)
	}
}

func (c *controller) ensureServiceEndpointsManaged(svc *AppService) {
	c.managersLock.Lock()
	defer c.managersLock.Unlock()
	key := svc.Namespace + "/" + svc.Name
	if e, ok := c.managers[key]; ok {
		e.stop()
		delete(c.managers, key)
	}
	m := &endpointsManager{readyAppPods: map[string]Pod{}}
	go m.run(c.ctx)
	c.managers[key] = m
}

func (c *controller) ensureServiceEndpointsNotManaged(svc *AppService) {
	c.managersLock.Lock()
	defer c.managersLock.Unlock()
	key := svc.Namespace + "/" + svc.Name
	if e, ok := c.managers[key]; ok {
		e.stop()
		delete(c.managers, key)
	}
}

func (c *controller) syncActivatorPod(obj interface{}) {
	c.readyActivatorPodsLock.Lock()
	defer c.readyActivatorPodsLock.Unlock()
	pod, ok := obj.(*Pod)
	if !ok {
		return
	}
	if pod.IP != "" {
		c.readyActivatorPods[pod.Name] = *pod
	} else {
		delete(c.readyActivatorPods, pod.Name)
	}
	for _, mgr := range c.managers { // want `range over c.managers without c.managersLock held`
		func() {
			mgr.readyAppPodsLock.Lock()
			defer mgr.readyAppPodsLock.Unlock()
			mgr.readyAppPods[pod.Name] = *pod
		}()
	}
}

// activatorFixed is activator after PR 61: the first lookup takes the
// (now read-write) lock too.
type activatorFixed struct {
	appActivations     map[string]*appActivation
	appActivationsLock sync.RWMutex
}

func NewActivatorFixed() *activatorFixed {
	mux := http.NewServeMux()
	a := &activatorFixed{appActivations: map[string]*appActivation{}}
	mux.HandleFunc("/", a.handleRequest)
	return a
}

func (a *activatorFixed) handleRequest(w http.ResponseWriter, r *http.Request) {
	appKey := getKey("ns", "Deployment", r.Host)
	a.appActivationsLock.RLock()
	appActivation, ok := a.appActivations[appKey]
	a.appActivationsLock.RUnlock()
	if !ok {
		func() {
			a.appActivationsLock.Lock()
			defer a.appActivationsLock.Unlock()
			appActivation, ok = a.appActivations[appKey]
			if ok {
				return
			}
			appActivation = newAppActivation()
			a.appActivations[appKey] = appActivation
			go func() {
				<-appActivation.successCh
				a.appActivationsLock.Lock()
				defer a.appActivationsLock.Unlock()
				delete(a.appActivations, appKey)
			}()
		}()
	}
	<-appActivation.successCh
	w.WriteHeader(http.StatusOK)
}

// controllerFixed is controller after PR 62: syncActivatorPod also takes
// managersLock (read) around the range.
type controllerFixed struct {
	readyActivatorPods     map[string]Pod
	readyActivatorPodsLock sync.Mutex
	managers               map[string]*endpointsManager
	managersLock           sync.RWMutex
}

func NewControllerFixed(pods, services SharedIndexInformer) *controllerFixed {
	c := &controllerFixed{readyActivatorPods: map[string]Pod{}, managers: map[string]*endpointsManager{}}
	pods.AddEventHandler(ResourceEventHandlerFuncs{AddFunc: c.syncActivatorPod, DeleteFunc: c.syncActivatorPod})
	services.AddEventHandler(ResourceEventHandlerFuncs{AddFunc: c.syncAppService, DeleteFunc: c.syncDeletedAppService})
	return c
}

func (c *controllerFixed) syncAppService(obj interface{}) {
	svc := obj.(*AppService)
	c.managersLock.Lock()
	defer c.managersLock.Unlock()
	c.managers[svc.Name] = &endpointsManager{readyAppPods: map[string]Pod{}}
}

func (c *controllerFixed) syncDeletedAppService(obj interface{}) {
	svc := obj.(*AppService)
	c.managersLock.Lock()
	defer c.managersLock.Unlock()
	if e, ok := c.managers[svc.Name]; ok {
		e.stop()
		delete(c.managers, svc.Name)
	}
}

func (c *controllerFixed) syncActivatorPod(obj interface{}) {
	c.readyActivatorPodsLock.Lock()
	defer c.readyActivatorPodsLock.Unlock()
	pod := obj.(*Pod)
	c.readyActivatorPods[pod.Name] = *pod
	c.managersLock.RLock()
	defer c.managersLock.RUnlock()
	for _, mgr := range c.managers {
		func() {
			mgr.readyAppPodsLock.Lock()
			defer mgr.readyAppPodsLock.Unlock()
			mgr.readyAppPods[pod.Name] = *pod
		}()
	}
}

func newAppActivation() *appActivation {
	return &appActivation{successCh: make(chan struct{}), timeoutCh: make(chan struct{})}
}
