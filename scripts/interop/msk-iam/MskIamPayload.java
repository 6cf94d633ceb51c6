// MskIamPayload prints the SASL AWS_MSK_IAM client-first message that AWS's
// own Java library (software.amazon.msk:aws-msk-iam-auth) sends for fixed
// inputs, so that eddy's test can compare its own payload with it:
//
//   java -cp 'LIBS/*:CLASSES' MskIamPayload HOST USER_AGENT EPOCH_SECONDS
//
// with the credentials in MSK_TEST_ACCESS_KEY_ID, MSK_TEST_SECRET_ACCESS_KEY
// and MSK_TEST_SESSION_TOKEN (empty: long-term credentials, no token).
//
// The library signs with the wall clock and offers no way to set it. The
// only change made here is that clock: presignRequest (a public method of
// the library's AWS4SignedPayloadGenerator) is overridden to build the
// request and the signing parameters with the library's own private
// methods, and then to sign at the given instant, the expiry the library's
// own 15 minutes after it. Everything else — the region taken from the host,
// the request, the SigV4 presigning, the key/value map and its JSON — is the
// library's code.
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.signer.Aws4Signer;
import software.amazon.awssdk.auth.signer.params.Aws4PresignerParams;
import software.amazon.awssdk.http.SdkHttpFullRequest;
import software.amazon.msk.auth.iam.internals.AWS4SignedPayloadGenerator;
import software.amazon.msk.auth.iam.internals.AuthenticationRequestParams;

public final class MskIamPayload {
    /** The library's generator, signing at a fixed instant. */
    static final class FixedClock extends AWS4SignedPayloadGenerator {
        private final Instant now;

        FixedClock(Instant now) {
            this.now = now;
        }

        @Override
        public SdkHttpFullRequest presignRequest(AuthenticationRequestParams params) {
            try {
                Class<AWS4SignedPayloadGenerator> g = AWS4SignedPayloadGenerator.class;
                Method request = g.getDeclaredMethod("createRequestForSigning", AuthenticationRequestParams.class);
                Method signing = g.getDeclaredMethod("createSigningParams", AuthenticationRequestParams.class);
                Field minutes = g.getDeclaredField("EXPIRY_DURATION_MINUTES");
                request.setAccessible(true);
                signing.setAccessible(true);
                minutes.setAccessible(true);
                SdkHttpFullRequest req = (SdkHttpFullRequest) request.invoke(this, params);
                Aws4PresignerParams p = ((Aws4PresignerParams) signing.invoke(this, params)).toBuilder()
                        .signingClockOverride(Clock.fixed(now, ZoneOffset.UTC))
                        .expirationTime(now.plus(Duration.ofMinutes(minutes.getInt(null))))
                        .build();
                return Aws4Signer.create().presign(req, p);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("aws-msk-iam-auth's AWS4SignedPayloadGenerator changed: " + e, e);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: MskIamPayload HOST USER_AGENT EPOCH_SECONDS");
            System.exit(2);
        }
        String id = System.getenv("MSK_TEST_ACCESS_KEY_ID");
        String secret = System.getenv("MSK_TEST_SECRET_ACCESS_KEY");
        String token = System.getenv("MSK_TEST_SESSION_TOKEN");
        AwsCredentials creds = token == null || token.isEmpty()
                ? AwsBasicCredentials.create(id, secret)
                : AwsSessionCredentials.create(id, secret, token);
        AuthenticationRequestParams params = AuthenticationRequestParams.create(args[0], creds, args[1]);
        byte[] payload = new FixedClock(Instant.ofEpochSecond(Long.parseLong(args[2]))).signedPayload(params);
        System.out.write(payload);
        System.out.flush();
    }
}
