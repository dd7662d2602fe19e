// Package gpus counts the GPUs and MIG slices a pod asks for, from its
// container resources and from its Dynamic Resource Allocation claims alike,
// so that quota, cost, tolerations, MIG checks, placement and audit see each
// GPU exactly once.
//
// Container resources count as state.GPUCounter counted them: configured
// extended resources by weight (nvidia.com/gpu is one GPU), MIG resources
// (nvidia.com/mig-<profile>) as their profile's fraction of a GPU, init,
// sidecar and app containers combined as the scheduler combines them, and
// requests defaulting to limits. Through KEP-5004 (DRA extended resources), a
// resource that only a GPU DeviceClass serves (deviceclass.resource.kubernetes.io/<class>,
// or a class's spec.extendedResourceName) counts as that class's devices.
//
// Claims count per device request of a configured GPU DeviceClass
// (Config.DeviceClasses, or a class whose selectors require a GPU driver):
// ExactCount with its count (one when unset), All as one device and flagged,
// firstAvailable as its largest alternative. A MIG class's devices count as
// the fraction of the profile its CEL selectors name
// (device.attributes['gpu.nvidia.com'].profile == '3g.20gb'), and as a whole
// GPU when the profile cannot be read.
//
// A namespace's usage (NamespaceUsage, Sum) counts each claim once however
// many pods share it; Usage.Adds says what the pod under review adds. Bad
// input never fails: it becomes a Problem naming the object and field.
package gpus
