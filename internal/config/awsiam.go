package config

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/eddy-sh/eddy/bus/kafka"
	"github.com/eddy-sh/eddy/inspect"
	"github.com/eddy-sh/eddy/internal/cmdutil"
)

// AWSIAMConfig is a context's Amazon MSK IAM login (SASL AWS_MSK_IAM). It
// names no key: the credentials come from the AWS SDK's default chain —
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, the shared
// config and credentials files and their profiles, web identity, the
// instance's role.
type AWSIAMConfig struct {
	// Region is the region to sign for (default: the one in the broker's
	// host name, else AWS_REGION or the profile's).
	Region string `yaml:"region,omitempty"`
	// Profile is the shared files' profile (default: AWS_PROFILE, else
	// default).
	Profile string `yaml:"profile,omitempty"`
}

// bindAWSIAM declares the --sasl-aws-* flags.
func (g *Options) bindAWSIAM(fs *pflag.FlagSet) {
	a := &g.AWS
	fs.StringVar(&a.Region, "sasl-aws-region", "", "AWS region to sign the AWS_MSK_IAM login for (default: from the broker's host name, b-1.NAME.ID.c2.kafka.REGION.amazonaws.com, else AWS_REGION or the profile's)")
	fs.StringVar(&a.Profile, "sasl-aws-profile", "", "profile of ~/.aws/config and ~/.aws/credentials for AWS_MSK_IAM (default: AWS_PROFILE, else default; keys come from the AWS chain, never a flag)")
}

// awsIAMLogin resolves an AWS_MSK_IAM login when the mechanism is
// AWS_MSK_IAM, or when none is named but a --sasl-aws-* flag or the
// context's sasl.aws is there; ok is false otherwise. The flags win over
// the context. The secret key and session token the chain gives are
// registered with the redactor before they sign.
func (r *Resolver) awsIAMLogin(mech string, ctx *AWSIAMConfig) (a kafka.AWSMSKIAM, ok bool, err error) {
	f := r.Flags.AWS
	if ctx == nil {
		ctx = &AWSIAMConfig{}
	}
	mech = strings.ToUpper(strings.TrimSpace(mech))
	if mech != "AWS_MSK_IAM" {
		switch {
		case mech != "" && f != (AWSIAMConfig{}):
			return a, true, cmdutil.Usagef("--sasl-aws-* flags are for --sasl-mechanism AWS_MSK_IAM, not %s", mech)
		case mech != "" || (f == AWSIAMConfig{} && *ctx == AWSIAMConfig{}):
			return a, false, nil
		}
	}
	if r.Flags.SASLUser != "" || r.Flags.SASLPassFile != "" {
		return a, true, cmdutil.Usagef("AWS_MSK_IAM takes no --sasl-user or --sasl-password-file: the AWS credentials come from the AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws profiles with --sasl-aws-profile, web identity)")
	}
	a = kafka.AWSMSKIAM{Region: ctx.Region, Profile: ctx.Profile, OnSecret: r.Secrets.Add}
	if f.Region != "" {
		a.Region = f.Region
	}
	if f.Profile != "" {
		a.Profile = f.Profile
	}
	return a, true, nil
}

// setAWSIAM records eddy config set's --sasl-aws-* flags in kc's sasl.aws
// (mechanism AWS_MSK_IAM unless the flags name another, which resolution
// then refuses).
func setAWSIAM(kc *KafkaConfig, o *Options) {
	if o.AWS == (AWSIAMConfig{}) && !strings.EqualFold(strings.TrimSpace(o.SASLMech), "AWS_MSK_IAM") {
		return
	}
	if kc.SASL == nil {
		kc.SASL = &SASLConfig{}
	}
	if kc.SASL.Mechanism == "" {
		kc.SASL.Mechanism = "AWS_MSK_IAM"
	}
	a := o.AWS
	kc.SASL.AWS = &a
}

// mskIAMLoginModule is the JAAS login module of AWS's Java client, which a
// Java client.properties for MSK names (sasl.jaas.config), with
// sasl.mechanism=AWS_MSK_IAM and its callback handler
// (sasl.client.callback.handler.class).
const (
	mskIAMLoginModule     = "software.amazon.msk.auth.iam.IAMLoginModule"
	mskIAMCallbackHandler = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
)

// awsIAMJAAS maps IAMLoginModule's options onto c: awsProfileName is the
// profile; the others (awsRoleArn, awsDebugCreds, ...) have no eddy
// setting and are named in a warning.
func awsIAMJAAS(c *Conn, opts map[string]string, keys []string, warn func(string)) error {
	switch c.Mechanism {
	case "":
		c.Mechanism = "AWS_MSK_IAM"
	case "AWS_MSK_IAM":
	default:
		return fmt.Errorf("IAMLoginModule needs sasl.mechanism AWS_MSK_IAM, not %s", inspect.SafeString(c.Mechanism))
	}
	for _, k := range keys {
		if k == "awsProfileName" {
			c.AWSProfile = opts[k]
			continue
		}
		warn(fmt.Sprintf("sasl.jaas.config option %s of IAMLoginModule is not supported (eddy takes awsProfileName; a role to assume goes in the profile: role_arn, source_profile); ignored", inspect.SafeString(k)))
	}
	return nil
}
