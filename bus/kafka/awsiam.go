package kafka

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/sasl"
)

// AWSMSKIAM is how to log in to Amazon MSK with IAM access control (SASL
// AWS_MSK_IAM), for WithAWSMSKIAM: AWS credentials sign, with SigV4, a
// "kafka-cluster:Connect" request for the broker's host, as AWS's own Java
// client (software.amazon.msk:aws-msk-iam-auth) does. Neither the secret
// key nor the session token is sent: only the signature, and the token as
// the signed request's X-Amz-Security-Token.
type AWSMSKIAM struct {
	// Region is the region whose signing key is used. Empty: the region in
	// the broker's host name (b-1.NAME.ID.c2.kafka.REGION.amazonaws.com,
	// as MSK names its brokers), else the AWS configuration's (AWS_REGION,
	// the profile's region). A region given here wins over the host name:
	// it is how a broker reached by another name (a tunnel, PrivateLink
	// DNS) is signed for.
	Region string
	// Profile is the profile of the shared config and credentials files
	// (~/.aws/config, ~/.aws/credentials) to take credentials and region
	// from. Empty: AWS_PROFILE, else "default".
	Profile string
	// Credentials, when set, supplies the credentials. Nil: the AWS SDK's
	// default chain — AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
	// (/AWS_SESSION_TOKEN), the shared files and their profiles (assumed
	// roles, SSO, credential_process), web identity
	// (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN), the container's or
	// the instance's role.
	Credentials aws.CredentialsProvider
	// UserAgent is the "user-agent" of the payload, which IAM policies can
	// test (aws:UserAgent). Empty: "eddy".
	UserAgent string
	// OnSecret is told the secret access key and the session token of
	// every credentials before they sign: eddy registers them with its
	// redactor, so that no log line or error can show them.
	OnSecret func(secret string)

	now func() time.Time // the signing clock (tests fix it)
}

// WithAWSMSKIAM authenticates with SASL AWS_MSK_IAM as a says. New loads the
// AWS configuration (the shared files and the profile); credentials are
// retrieved at each login, so expiring ones (a role's, web identity's) are
// renewed by the SDK before they lapse, and each connection signs with
// fresh ones. The secret key and the session token are kept out of every
// error and log line.
func WithAWSMSKIAM(a AWSMSKIAM) Option {
	return func(o *cfg) {
		o.saslMech, o.awsIAM = "AWS_MSK_IAM", &a
	}
}

// mskIAMExpiry is how long a signed payload is valid: the Java library's
// 15 minutes (AWS4SignedPayloadGenerator's EXPIRY_DURATION_MINUTES).
const mskIAMExpiry = 15 * time.Minute

// mskIAMVersion is the payload's version, the one MSK brokers accept.
const mskIAMVersion = "2020_10_22"

// validateAWSIAM loads the AWS configuration for cfg's AWS_MSK_IAM login.
func (c *cfg) validateAWSIAM() error {
	a := c.awsIAM
	if a == nil {
		return errors.New("kafka: SASL mechanism AWS_MSK_IAM needs its settings (WithAWSMSKIAM)")
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.UserAgent == "" {
		a.UserAgent = "eddy"
	}
	if a.Region != "" && !awsRegion.MatchString(a.Region) {
		return fmt.Errorf("kafka: AWS region %q: want a region such as us-east-1", a.Region)
	}
	if a.Credentials != nil {
		return nil
	}
	var opts []func(*awsconfig.LoadOptions) error
	if a.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(a.Profile))
	}
	conf, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		// A named profile that the files lack, a file that does not parse.
		return fmt.Errorf("kafka: AWS configuration: %v", err)
	}
	a.Credentials = conf.Credentials
	if a.Region == "" {
		c.awsRegion = conf.Region
	}
	return nil
}

// checkAWSRegions makes New fail when the AWS_MSK_IAM login would not know
// the region of a seed broker: said before any connection, since a broker
// that does not take AWS_MSK_IAM refuses it before the login is signed.
func (c *cfg) checkAWSRegions(seeds []string) error {
	if c.awsIAM == nil || c.awsIAM.Region != "" || c.awsRegion != "" {
		return nil
	}
	for _, s := range seeds {
		host, _, err := net.SplitHostPort(s)
		if err != nil {
			host = s
		}
		if regionOfHost(host) == "" {
			return errors.New(noRegion(host))
		}
	}
	return nil
}

func noRegion(host string) string {
	return fmt.Sprintf("kafka: AWS_MSK_IAM: which AWS region is broker %s in? Its name does not say (an MSK broker's ends in .kafka.REGION.amazonaws.com): give --sasl-aws-region (or AWS_REGION, or a region in the profile)", safeText(host))
}

// awsIAMMechanism is the SASL AWS_MSK_IAM mechanism of the Client's login.
func (c *Client) awsIAMMechanism() sasl.Mechanism {
	return &mskIAM{a: c.cfg.awsIAM, fallbackRegion: c.cfg.awsRegion, timeout: c.cfg.dialTimeout}
}

// mskIAM signs a payload for each connection. franz-go's sasl/aws signs
// with the wall clock, a 5-minute expiry (the Java library's is 15) and a
// region only from the host name or AWS_REGION; this one follows the Java
// library, with the AWS SDK's SigV4 presigner.
type mskIAM struct {
	a              *AWSMSKIAM
	fallbackRegion string // the AWS configuration's region
	timeout        time.Duration
}

func (m *mskIAM) Name() string { return "AWS_MSK_IAM" }

func (m *mskIAM) Authenticate(ctx context.Context, addr string) (sasl.Session, []byte, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	region := m.a.Region
	if region == "" {
		region = regionOfHost(host)
	}
	if region == "" {
		region = m.fallbackRegion
	}
	if region == "" {
		// A broker advertised under another name than the seeds'.
		return nil, nil, &awsIAMError{msg: strings.TrimPrefix(noRegion(host), "kafka: ")}
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	creds, err := m.a.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, nil, &awsIAMError{msg: "AWS_MSK_IAM: no AWS credentials: " + credentialsProblem(err), err: err}
	}
	if m.a.OnSecret != nil {
		m.a.OnSecret(creds.SecretAccessKey)
		if creds.SessionToken != "" {
			m.a.OnSecret(creds.SessionToken)
		}
	}
	payload, err := mskIAMPayload(ctx, creds, host, region, m.a.UserAgent, m.a.now())
	if err != nil {
		return nil, nil, &awsIAMError{msg: "AWS_MSK_IAM: signing the login: " + err.Error(), err: err}
	}
	return mskIAMSession{}, payload, nil
}

// mskIAMSession is done at the broker's first answer: MSK answers an
// accepted login with a JSON object (its version and request id), and a
// refused one with a SaslAuthenticate error, which kgo reports itself.
type mskIAMSession struct{}

func (mskIAMSession) Challenge(resp []byte) (bool, []byte, error) {
	if len(resp) == 0 {
		return false, nil, errors.New("AWS_MSK_IAM: the broker answered the login with nothing")
	}
	return true, nil, nil
}

// mskIAMPayload is the client's first (and only) SASL message: the query
// parameters of a SigV4-presigned "GET https://HOST/?Action=kafka-
// cluster:Connect", their names lower-cased, with the host, the payload
// version and the user agent, as a JSON object — what the Java library's
// AWS4SignedPayloadGenerator makes of the same inputs.
func mskIAMPayload(ctx context.Context, creds aws.Credentials, host, region, userAgent string, now time.Time) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/", nil)
	if err != nil {
		return nil, err
	}
	q := req.URL.Query()
	q.Set("Action", "kafka-cluster:Connect")
	q.Set("X-Amz-Expires", fmt.Sprint(int(mskIAMExpiry/time.Second)))
	req.URL.RawQuery = q.Encode()
	// The Java signer hashes the empty body, as for any GET (only S3's
	// signer uses UNSIGNED-PAYLOAD).
	empty := sha256.Sum256(nil)
	signed, _, err := v4.NewSigner().PresignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), "kafka-cluster", region, now.UTC())
	if err != nil {
		return nil, err
	}
	u, err := req.URL.Parse(signed)
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	for k, v := range u.Query() {
		kv[strings.ToLower(k)] = v[0]
	}
	kv["host"] = host
	kv["version"] = mskIAMVersion
	kv["user-agent"] = userAgent
	return json.Marshal(kv)
}

// awsRegion is an AWS region's name (us-east-1, eu-central-2,
// us-gov-west-1, cn-north-1, ap-southeast-7).
var awsRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// awsSuffixes are the DNS suffixes of AWS's partitions' endpoints (the
// Java library takes them from the SDK's partition metadata).
var awsSuffixes = []string{".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".api.amazonwebservices.com.cn",
	".c2s.ic.gov", ".sc2s.sgov.gov", ".amazonaws.eu"}

// regionOfHost is the region in an AWS endpoint's host name, the label just
// before the partition's suffix (b-1.x.kafka.us-east-1.amazonaws.com,
// boot-x.c1.kafka-serverless.eu-west-3.amazonaws.com), or "".
func regionOfHost(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, suffix := range awsSuffixes {
		if rest, ok := strings.CutSuffix(host, suffix); ok {
			label := rest[strings.LastIndexByte(rest, '.')+1:]
			if awsRegion.MatchString(label) {
				return label
			}
		}
	}
	return ""
}

// credentialsProblem says why the chain found no credentials, with where
// it looked: the SDK's own error names the last place only.
func credentialsProblem(err error) string {
	s := err.Error()
	// The chain ends at the instance role: its failure says the chain
	// found nothing before it.
	if strings.Contains(s, "no EC2 IMDS role found") || (strings.Contains(s, "failed to refresh cached credentials") && strings.Contains(s, "IMDS")) {
		return "none in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared files (~/.aws/credentials, ~/.aws/config; --sasl-aws-profile or AWS_PROFILE), web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN) or an instance role"
	}
	return s
}

// awsIAMError is an AWS_MSK_IAM login that could not be signed: no region,
// no credentials. It never holds a secret: the SDK's errors name files,
// profiles and roles, not keys.
type awsIAMError struct {
	msg string
	err error
}

func (e *awsIAMError) Error() string { return e.msg }
func (e *awsIAMError) Unwrap() error { return e.err }
