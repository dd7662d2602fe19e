package mutators

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/podidentity"
)

// What the credentials mutator injects (EKS's own names and paths, so that
// the AWS SDKs find them).
const (
	PodIdentityVolume    = "eks-pod-identity-token"
	PodIdentityAudience  = "pods.eks.amazonaws.com"
	PodIdentityMountPath = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
	PodIdentityTokenFile = PodIdentityMountPath + "/eks-pod-identity-token"
	// PodIdentityExpiration is the token lifetime EKS uses for Pod Identity.
	PodIdentityExpiration int64 = 86400

	IRSAVolume    = "aws-iam-token"
	IRSAMountPath = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
	IRSATokenFile = IRSAMountPath + "/token"
)

// minTokenExpiration is the shortest projected token the API server accepts.
const minTokenExpiration = 600

// Credentials injects AWS credentials for the IAM role the pod will assume
// (podidentity.Resolve):
//
//   - Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI,
//     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and the projected token volume
//     eks-pod-identity-token (audience pods.eks.amazonaws.com, 86400s);
//   - IRSA: AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_STS_REGIONAL_ENDPOINTS
//     when asked, and the volume aws-iam-token (audience sts.amazonaws.com);
//     audience, token lifetime and regional STS come from the pod's
//     annotations, else the ServiceAccount's, else the configuration;
//   - both: AWS_REGION and AWS_DEFAULT_REGION when a region is configured.
//
// Init and app containers alike, except those named in the pod annotation
// eks.amazonaws.com/skip-containers. A variable, volume or mount the user
// already set is kept as it is. A malformed role ARN is a warning and
// nothing is injected.
func Credentials(pod *corev1.Pod, env *Env) bool {
	cfg := &env.Config.Credentials
	if !cfg.Enabled {
		return false
	}
	role, err := podidentity.Resolve(pod, env.ServiceAccount, env.Association)
	if err != nil {
		env.Warn("%v; AWS credentials not injected", err)
		return false
	}
	var (
		vars  []corev1.EnvVar
		vol   corev1.Volume
		mount corev1.VolumeMount
	)
	switch role.Mode {
	case podidentity.ModePodIdentity:
		vars = []corev1.EnvVar{
			{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: cfg.PodIdentityEndpoint},
			{Name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", Value: PodIdentityTokenFile},
		}
		vol = tokenVolume(PodIdentityVolume, PodIdentityAudience, PodIdentityExpiration, PodIdentityVolume)
		mount = corev1.VolumeMount{Name: PodIdentityVolume, MountPath: PodIdentityMountPath, ReadOnly: true}
	case podidentity.ModeIRSA:
		s := irsaSettings(pod, env)
		vars = []corev1.EnvVar{
			{Name: "AWS_ROLE_ARN", Value: role.ARN},
			{Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: IRSATokenFile},
		}
		if s.regional {
			vars = append(vars, corev1.EnvVar{Name: "AWS_STS_REGIONAL_ENDPOINTS", Value: "regional"})
		}
		vol = tokenVolume(IRSAVolume, s.audience, s.expiration, "token")
		mount = corev1.VolumeMount{Name: IRSAVolume, MountPath: IRSAMountPath, ReadOnly: true}
	default:
		return false
	}
	if cfg.Region != "" {
		vars = append(vars,
			corev1.EnvVar{Name: "AWS_REGION", Value: cfg.Region},
			corev1.EnvVar{Name: "AWS_DEFAULT_REGION", Value: cfg.Region})
	}

	skip := map[string]bool{}
	for _, n := range strings.Split(pod.Annotations[podidentity.AnnotationSkipContainers], ",") {
		if n = strings.TrimSpace(n); n != "" {
			skip[n] = true
		}
	}
	changed, injected := false, false
	for _, c := range containers(pod) {
		if skip[c.Name] {
			continue
		}
		injected = true
		for _, v := range vars {
			if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == v.Name }) {
				c.Env = append(c.Env, v)
				changed = true
			}
		}
		if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
			return m.Name == mount.Name || m.MountPath == mount.MountPath
		}) {
			c.VolumeMounts = append(c.VolumeMounts, mount)
			changed = true
		}
	}
	if injected && !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == vol.Name }) {
		pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
		changed = true
	}
	return changed
}

func tokenVolume(name, audience string, expiration int64, path string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Audience: audience, ExpirationSeconds: &expiration, Path: path,
		}}},
	}}}
}

type irsa struct {
	audience   string
	expiration int64
	regional   bool
}

// irsaSettings resolves each IRSA setting: pod annotation > ServiceAccount
// annotation > configuration. An annotation that does not parse is a
// warning and the next source applies.
func irsaSettings(pod *corev1.Pod, env *Env) irsa {
	cfg := &env.Config.Credentials
	s := irsa{audience: cfg.Audience, expiration: cfg.TokenExpirationSeconds, regional: cfg.RegionalSTS}
	type source struct {
		what string
		ann  map[string]string
	}
	// Lowest precedence first: each later source overrides.
	var sources []source
	if sa := env.ServiceAccount; sa != nil {
		sources = append(sources, source{"ServiceAccount " + sa.Namespace + "/" + sa.Name, sa.Annotations})
	}
	sources = append(sources, source{"pod " + pod.Namespace + "/" + pod.Name, pod.Annotations})
	for _, src := range sources {
		if v := strings.TrimSpace(src.ann[podidentity.AnnotationAudience]); v != "" {
			s.audience = v
		}
		if v, ok := src.ann[podidentity.AnnotationTokenExpiry]; ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < minTokenExpiration || n > 1<<32 {
				env.Warn("%s annotation %s: %q is not a number of seconds from %d to %d; ignored", src.what, podidentity.AnnotationTokenExpiry, v, minTokenExpiration, int64(1)<<32)
			} else {
				s.expiration = n
			}
		}
		if v, ok := src.ann[podidentity.AnnotationRegionalSTS]; ok {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				env.Warn("%s annotation %s: %q is not true or false; ignored", src.what, podidentity.AnnotationRegionalSTS, v)
			} else {
				s.regional = b
			}
		}
	}
	return s
}
