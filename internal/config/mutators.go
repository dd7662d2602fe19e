package config

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations the mutators read.
const (
	// AnnotationMIGProfile on a pod, or on its namespace as a default,
	// names the MIG profile its nvidia.com/gpu requests are rewritten to.
	AnnotationMIGProfile = "tollgate.dev/mig-profile"
	// AnnotationCapacityType: spot on a namespace makes its pods count as
	// able to land on Spot capacity.
	AnnotationCapacityType = "tollgate.dev/capacity-type"
)

// Mutators is the mutators section of the configuration file. The pod
// mutators run in a fixed order: GPU tolerations, credentials, preStop
// drain, MIG resource names.
type Mutators struct {
	GPUTolerations GPUTolerations `json:"gpuTolerations"`
	Credentials    Credentials    `json:"credentials"`
	Drain          Drain          `json:"drain"`
	MIG            MIG            `json:"mig"`
}

// GPUTolerations configures the GPU tolerations mutator: pods that request
// nvidia.com/gpu, nvidia.com/mig-* or one of ExtraResources tolerate the
// taints of GPU nodes.
type GPUTolerations struct {
	Enabled bool `json:"enabled"`
	// ExtraResources are accelerator resource names that count as a GPU
	// request besides nvidia.com/gpu and nvidia.com/mig-*, for example
	// aws.amazon.com/neuron. A trailing * matches a prefix.
	ExtraResources []string `json:"extraResources,omitempty"`
	// Tolerations are added to accelerator pods. Default nvidia.com/gpu,
	// operator Exists, effect NoSchedule (the taint of the NVIDIA GPU
	// operator and of GPU NodePools).
	Tolerations []corev1.Toleration `json:"tolerations"`
	// TrainingLabel marks pods that declare training (default
	// workload=ml-training); accelerator pods with it also get
	// TrainingTolerations.
	TrainingLabel Label `json:"trainingLabel"`
	// TrainingTolerations tolerate the taint of training NodePools (default
	// workload-type=training:NoSchedule).
	TrainingTolerations []corev1.Toleration `json:"trainingTolerations"`
}

// Label is one label key and value.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Credentials configures the Pod Identity / IRSA mutator.
type Credentials struct {
	Enabled bool `json:"enabled"`
	// Region sets AWS_REGION and AWS_DEFAULT_REGION in every container
	// that gets credentials; empty sets neither.
	Region string `json:"region,omitempty"`
	// Audience is the IRSA token audience unless the pod or ServiceAccount
	// annotation eks.amazonaws.com/audience says otherwise. Default
	// sts.amazonaws.com.
	Audience string `json:"audience"`
	// TokenExpirationSeconds is the IRSA token lifetime unless the
	// eks.amazonaws.com/token-expiration annotation says otherwise.
	// Default 86400; at least 600.
	TokenExpirationSeconds int64 `json:"tokenExpirationSeconds"`
	// RegionalSTS sets AWS_STS_REGIONAL_ENDPOINTS=regional for IRSA unless
	// the eks.amazonaws.com/sts-regional-endpoints annotation says otherwise.
	RegionalSTS bool `json:"regionalSTS,omitempty"`
	// PodIdentityEndpoint is AWS_CONTAINER_CREDENTIALS_FULL_URI for Pod
	// Identity. Default http://169.254.170.23/v1/credentials (IPv6
	// clusters: http://[fd00:ec2::23]/v1/credentials).
	PodIdentityEndpoint string `json:"podIdentityEndpoint"`
	// Associations are Pod Identity associations, "namespace/serviceAccount"
	// to role ARN, for clusters where Tollgate does not read them from the
	// EKS API; an association read from the EKS API wins over these.
	Associations map[string]string `json:"associations,omitempty"`
	// EKS reads Pod Identity associations from the EKS API.
	EKS EKSAssociations `json:"eks"`
	// ServiceAccountTimeout bounds how long admission waits for a
	// ServiceAccount that is not in the informer cache (a live, rate
	// limited GET); past it the pod is admitted unmutated with a warning.
	// Default 500ms.
	ServiceAccountTimeout metav1.Duration `json:"serviceAccountTimeout"`
	// ServiceAccountQPS and ServiceAccountBurst rate-limit those GETs.
	// Default 20 and 40.
	ServiceAccountQPS   float64 `json:"serviceAccountQPS"`
	ServiceAccountBurst int     `json:"serviceAccountBurst"`
}

// EKSAssociations configures reading Pod Identity associations from the
// EKS API (ListPodIdentityAssociations, then DescribePodIdentityAssociation
// for each). Credentials come from the standard AWS SDK chain (environment,
// shared config, web identity, Pod Identity); instance metadata only when
// InstanceMetadata is set.
type EKSAssociations struct {
	Enabled bool `json:"enabled,omitempty"`
	// ClusterName is the EKS cluster whose associations are read.
	ClusterName string `json:"clusterName,omitempty"`
	// Region of the cluster; default the SDK's (AWS_REGION, the profile).
	Region string `json:"region,omitempty"`
	// RefreshInterval is how long the associations are used before they
	// are read again in the background. Default 5m.
	RefreshInterval metav1.Duration `json:"refreshInterval"`
	// Timeout bounds one refresh and how long a lookup waits for the first
	// one. Default 2s.
	Timeout metav1.Duration `json:"timeout"`
	// InstanceMetadata lets the SDK use the node's instance role.
	InstanceMetadata bool `json:"instanceMetadata,omitempty"`
}

// Drain configures the preStop drain mutator for pods that can land on
// Spot capacity.
type Drain struct {
	Enabled bool `json:"enabled"`
	// Action is sleep (the native lifecycle sleep action, Kubernetes 1.30
	// and later), exec (exec sleep, which needs a sleep binary in the
	// image) or auto (default): sleep from 1.30, exec before.
	Action string `json:"action"`
	// KubernetesVersion ("1.31") decides auto. Default: the API server's
	// version in serve, else 1.37. Set it to the oldest kubelet's version
	// when nodes lag the control plane.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// SpotNoticeSeconds is the Spot interruption notice; no grace period
	// is raised past it. Default 120.
	SpotNoticeSeconds int64 `json:"spotNoticeSeconds"`
	// SpotTaints are taints of Spot nodes; a pod tolerating one can land
	// on Spot. Default karpenter.sh/capacity-type=spot:NoSchedule.
	SpotTaints []corev1.Taint `json:"spotTaints"`
	// ClassLabel on a pod names its workload class explicitly. Without
	// it, pods of Jobs and pods that do not restart (restartPolicy Never
	// or OnFailure) are batch; other pods are inference. Default
	// tollgate.dev/workload-class.
	ClassLabel string `json:"classLabel"`
	// Classes are the drain settings per workload class. Defaults:
	// inference sleeps 30s with a 60s grace period (in-flight requests
	// finish while endpoints are removed); batch sleeps 5s with a 110s
	// grace period (SIGTERM comes early and the job has the rest of the
	// notice to checkpoint).
	Classes map[string]DrainClass `json:"classes"`
}

// DrainClass is the drain of one workload class.
type DrainClass struct {
	// PreStopSleepSeconds is the preStop sleep.
	PreStopSleepSeconds int64 `json:"preStopSleepSeconds"`
	// TerminationGracePeriodSeconds is what the pod's grace period is
	// raised to when it is lower; at most SpotNoticeSeconds and more than
	// the sleep.
	TerminationGracePeriodSeconds int64 `json:"terminationGracePeriodSeconds"`
}

// Workload classes of the drain mutator.
const (
	ClassInference = "inference"
	ClassBatch     = "batch"
)

// Drain actions.
const (
	DrainAuto  = "auto"
	DrainSleep = "sleep"
	DrainExec  = "exec"
)

// MIG configures the MIG resource name mutator.
type MIG struct {
	Enabled bool `json:"enabled"`
	// Strategy is the NVIDIA device plugin's MIG strategy: mixed (default)
	// rewrites nvidia.com/gpu to nvidia.com/mig-<profile>; single keeps
	// nvidia.com/gpu and selects nodes by their nvidia.com/gpu.product
	// label.
	Strategy string `json:"strategy"`
	// Products are the nvidia.com/gpu.product labels (without the
	// -MIG-<profile> suffix the GPU feature discovery appends in single
	// strategy) of the catalog's GPU models.
	Products map[string]string `json:"products"`
}

// MIG strategies.
const (
	MIGMixed  = "mixed"
	MIGSingle = "single"
)

func defaultMutators() Mutators {
	return Mutators{
		GPUTolerations: GPUTolerations{
			Enabled:       true,
			Tolerations:   []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			TrainingLabel: Label{Key: "workload", Value: "ml-training"},
			TrainingTolerations: []corev1.Toleration{
				{Key: "workload-type", Operator: corev1.TolerationOpEqual, Value: "training", Effect: corev1.TaintEffectNoSchedule},
			},
		},
		Credentials: Credentials{
			Enabled:                true,
			Audience:               "sts.amazonaws.com",
			TokenExpirationSeconds: 86400,
			PodIdentityEndpoint:    "http://169.254.170.23/v1/credentials",
			EKS: EKSAssociations{
				RefreshInterval: metav1.Duration{Duration: 5 * time.Minute},
				Timeout:         metav1.Duration{Duration: 2 * time.Second},
			},
			ServiceAccountTimeout: metav1.Duration{Duration: 500 * time.Millisecond},
			ServiceAccountQPS:     20,
			ServiceAccountBurst:   40,
		},
		Drain: Drain{
			Enabled:           true,
			Action:            DrainAuto,
			SpotNoticeSeconds: 120,
			SpotTaints:        []corev1.Taint{{Key: "karpenter.sh/capacity-type", Value: "spot", Effect: corev1.TaintEffectNoSchedule}},
			ClassLabel:        "tollgate.dev/workload-class",
			Classes: map[string]DrainClass{
				ClassInference: {PreStopSleepSeconds: 30, TerminationGracePeriodSeconds: 60},
				ClassBatch:     {PreStopSleepSeconds: 5, TerminationGracePeriodSeconds: 110},
			},
		},
		MIG: MIG{
			Enabled:  true,
			Strategy: MIGMixed,
			Products: map[string]string{
				"A100-40GB": "NVIDIA-A100-SXM4-40GB",
				"A100-80GB": "NVIDIA-A100-SXM4-80GB",
				"A30":       "NVIDIA-A30",
				"B200":      "NVIDIA-B200",
				"H100-80GB": "NVIDIA-H100-80GB-HBM3",
				"H100-NVL":  "NVIDIA-H100-NVL",
				"H200":      "NVIDIA-H200",
			},
		},
	}
}

// roleARN is an IAM role ARN in any partition: 12-digit account, optional
// path, name of at most 64 characters.
var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/([\x21-\x7e]+/)?[\w+=,.@-]{1,64}$`)

// ValidRoleARN reports whether s is an IAM role ARN.
func ValidRoleARN(s string) bool { return roleARN.MatchString(s) }

// ParseKubernetesVersion reads "1.31", "v1.31" or "v1.31.2" and returns the
// minor version.
func ParseKubernetesVersion(s string) (int, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	major, rest, ok := strings.Cut(t, ".")
	minor, _, _ := strings.Cut(rest, ".")
	// Managed control planes report minors such as "31+".
	n, err := strconv.Atoi(strings.TrimSuffix(minor, "+"))
	if !ok || major != "1" || err != nil || n < 0 {
		return 0, fmt.Errorf("invalid Kubernetes version %q (want 1.N)", s)
	}
	return n, nil
}

// Validate checks the mutators section; errors name the field.
func (m *Mutators) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("mutators.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	for i, t := range m.GPUTolerations.Tolerations {
		if err := validToleration(t); err != nil {
			bad(fmt.Sprintf("gpuTolerations.tolerations[%d]", i), "%v", err)
		}
	}
	for i, t := range m.GPUTolerations.TrainingTolerations {
		if err := validToleration(t); err != nil {
			bad(fmt.Sprintf("gpuTolerations.trainingTolerations[%d]", i), "%v", err)
		}
	}

	c := m.Credentials
	if c.TokenExpirationSeconds < 600 {
		bad("credentials.tokenExpirationSeconds", "%d is below the 600 seconds the API server accepts", c.TokenExpirationSeconds)
	}
	if c.Audience == "" {
		bad("credentials.audience", "must not be empty")
	}
	if !strings.HasPrefix(c.PodIdentityEndpoint, "http://") && !strings.HasPrefix(c.PodIdentityEndpoint, "https://") {
		bad("credentials.podIdentityEndpoint", "%q is not an http(s) URL", c.PodIdentityEndpoint)
	}
	keys := make([]string, 0, len(c.Associations))
	for k := range c.Associations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ns, sa, ok := strings.Cut(k, "/")
		if !ok || ns == "" || sa == "" || strings.Contains(sa, "/") {
			bad("credentials.associations", "key %q is not namespace/serviceAccount", k)
		}
		if !ValidRoleARN(c.Associations[k]) {
			bad("credentials.associations["+k+"]", "%q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", c.Associations[k])
		}
	}
	if c.EKS.Enabled && c.EKS.ClusterName == "" {
		bad("credentials.eks.clusterName", "required when credentials.eks.enabled is set")
	}
	if c.EKS.RefreshInterval.Duration <= 0 {
		bad("credentials.eks.refreshInterval", "must be positive")
	}
	if c.EKS.Timeout.Duration <= 0 {
		bad("credentials.eks.timeout", "must be positive")
	}
	if c.ServiceAccountTimeout.Duration <= 0 {
		bad("credentials.serviceAccountTimeout", "must be positive")
	}
	if c.ServiceAccountQPS <= 0 || c.ServiceAccountBurst < 1 {
		bad("credentials.serviceAccountQPS", "QPS %v and burst %d must be positive", c.ServiceAccountQPS, c.ServiceAccountBurst)
	}

	d := m.Drain
	switch d.Action {
	case DrainAuto, DrainSleep, DrainExec:
	default:
		bad("drain.action", "%q: want auto, sleep or exec", d.Action)
	}
	if d.KubernetesVersion != "" {
		if _, err := ParseKubernetesVersion(d.KubernetesVersion); err != nil {
			bad("drain.kubernetesVersion", "%v", err)
		}
	}
	if d.SpotNoticeSeconds < 1 {
		bad("drain.spotNoticeSeconds", "must be positive")
	}
	for _, class := range []string{ClassInference, ClassBatch} {
		if _, ok := d.Classes[class]; !ok {
			bad("drain.classes", "class %s is missing", class)
		}
	}
	names := make([]string, 0, len(d.Classes))
	for k := range d.Classes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		cl := d.Classes[k]
		switch {
		case cl.PreStopSleepSeconds < 0:
			bad("drain.classes."+k+".preStopSleepSeconds", "must not be negative")
		case cl.TerminationGracePeriodSeconds <= cl.PreStopSleepSeconds:
			bad("drain.classes."+k+".terminationGracePeriodSeconds", "%d must exceed the preStop sleep of %ds, or the container is killed while it drains", cl.TerminationGracePeriodSeconds, cl.PreStopSleepSeconds)
		case cl.TerminationGracePeriodSeconds > d.SpotNoticeSeconds:
			bad("drain.classes."+k+".terminationGracePeriodSeconds", "%d exceeds the %ds Spot notice", cl.TerminationGracePeriodSeconds, d.SpotNoticeSeconds)
		}
	}

	switch m.MIG.Strategy {
	case MIGMixed, MIGSingle:
	default:
		bad("mig.strategy", "%q: want mixed or single", m.MIG.Strategy)
	}
	return errors.Join(errs...)
}

func validToleration(t corev1.Toleration) error {
	switch {
	case t.Key == "" && t.Operator != corev1.TolerationOpExists:
		return errors.New("a toleration without key must use operator Exists")
	case t.Operator == corev1.TolerationOpExists && t.Value != "":
		return errors.New("operator Exists takes no value")
	case t.Operator != corev1.TolerationOpExists && t.Operator != corev1.TolerationOpEqual && t.Operator != "":
		return fmt.Errorf("operator %q: want Exists or Equal", t.Operator)
	}
	return nil
}
