/**
 * This file was generated from spec/config.schema.yaml by `make generate` (scripts/generate-config.mjs).
 * Do not make direct changes to the file.
 */

/**
 * The validated, frozen configuration every part of Lucid reads.
 */
export interface Config {
  /**
   * The HTTP listener.
   */
  server: {
    /**
     * Address to listen on (`0.0.0.0` for all). The flag `--host` of `lucid server` wins over both.
     *
     * Default: `127.0.0.1`; environment: `LUCID_HOST`.
     */
    host: string;
    /**
     * The port; 0 picks a free one. The flag `--port` of `lucid server` wins over both.
     *
     * Default: `7021`; environment: `LUCID_PORT`.
     */
    port: number;
    /**
     * A request (headers and body) must arrive within this time; a client that sends half a body
     * and stalls gets `408` and its connection closed. It also bounds how long a stop (SIGTERM)
     * waits for in-flight requests.
     *
     * Default: `30000`.
     */
    requestTimeoutMs: number;
    /**
     * The request line and headers must arrive within this time: a slow-header client (slowloris)
     * or one that connects and sends half a request line is answered `408` and closed. With
     * `server.tls`, it also bounds the TLS handshake: a connection that has not completed one by
     * then is destroyed. Both timeouts are checked every second (Node's own check runs every
     * 30 s), so a connection is cut at most a second after its limit.
     *
     * Default: `10000`.
     */
    headersTimeoutMs: number;
    /**
     * How long an idle keep-alive connection stays open.
     *
     * Default: `5000`.
     */
    keepAliveTimeoutMs: number;
    /**
     * HTTPS: paths of a PEM certificate (with its chain) and its private key, relative to the
     * config file's folder; `null` serves plain HTTP. When set, the port serves HTTPS only, with
     * HSTS. From the environment both variables are needed. `lucid init --tls` makes a
     * self-signed pair for trying it. See [TLS](operations.md#tls).
     *
     * Default: `null`; environment: `LUCID_TLS_CERT`, `LUCID_TLS_KEY`.
     */
    tls: {
      cert: string;
      key: string;
    } | null;
    /**
     * Open connections at most (notification streams included); a connection beyond it is
     * closed as soon as it is accepted, without an answer, and service resumes for new
     * connections as soon as others close. The default stays well under common open-file limits
     * (`ulimit -n`), so Lucid meets its own limit before the operating system's. Raise both
     * together for many notification clients.
     *
     * Default: `4096`; environment: `LUCID_MAX_CONNECTIONS`.
     */
    maxConnections: number;
    /**
     * The largest request line plus headers (the default is Node's); a larger one is answered
     * `431` and its connection closed. Tokens and preconditions are far smaller. Bytes that are
     * not HTTP at all get `400` and a closed connection.
     *
     * Default: `16384` (16 KiB).
     */
    maxHeaderBytes: number;
  };
  /**
   * Where data lives, as a URL: `sqlite://PATH` (relative to the config file's folder), or a
   * shared backend for several nodes: `redis://HOST:PORT[/DB]` (`rediss://` for TLS) or
   * `postgres://USER@HOST:PORT/DB`. See [Running several nodes](running-several-nodes.md).
   *
   * Default: `sqlite://data/lucid.sqlite`; environment: `LUCID_STORE`.
   */
  store: string;
  /**
   * Lower-case letters, digits and `_` (1 to 41). On a shared backend, names this deployment's
   * data (Redis key prefix `{lucid}:`, PostgreSQL tables `lucid_*`); ignored by SQLite.
   *
   * Default: `lucid`; environment: `LUCID_STORE_NAMESPACE`.
   */
  storeNamespace: string;
  /**
   * Who may call, with which tokens (JWT), and how the tokens are checked.
   */
  auth: {
    /**
     * Off means no token is checked (with a loud warning).
     *
     * Default: `true`; environment: `LUCID_AUTH_ENABLED`.
     */
    enabled: boolean;
    /**
     * The HS256 signing secret, at least 32 characters. There is no usable default: `lucid init`
     * generates one, and start-up refuses an empty or shorter one while `auth.enabled` is on.
     *
     * Default: `''`; environment: `LUCID_SECRET`.
     */
    secret: string;
    /**
     * Where `lucid token revoke` records revoked token ids on the embedded store (relative to
     * the config file's folder); the server re-reads it within 500 ms of a change. On a shared
     * backend revocations live in the backend instead, for every node.
     *
     * Default: `data/revoked-tokens.jsonl`.
     */
    revocationFile: string;
    /**
     * Refuse tokens without `exp`; `false` accepts them, never expiring (see
     * [Tokens](security.md#tokens-jwt-following-rfc-8725)).
     *
     * Default: `true`; environment: `LUCID_AUTH_REQUIRE_EXP`.
     */
    requireExp: boolean;
    /**
     * A token's `iss` must be one of these (`''` or `[]`: not checked); Lucid's own tokens carry
     * the first. The environment gives one value.
     *
     * Default: `''`; environment: `LUCID_AUTH_ISSUER`.
     */
    issuer: string | string[];
    /**
     * A token's `aud` must name one of these (`''` or `[]`: not checked); Lucid's own tokens
     * carry the first. The environment gives one value.
     *
     * Default: `''`; environment: `LUCID_AUTH_AUDIENCE`.
     */
    audience: string | string[];
    /**
     * Leeway for `exp` and `nbf` against clock drift.
     *
     * Default: `30`; environment: `LUCID_AUTH_CLOCK_SKEW_SECONDS`.
     */
    clockSkewSeconds: number;
    /**
     * An identity provider's PEM public key (relative to the config file's folder; `''`: none):
     * RSA verifies RS256, P-256 verifies ES256 (see
     * [Tokens from an identity provider](security.md#tokens-from-an-identity-provider)).
     *
     * Default: `''`; environment: `LUCID_AUTH_PUBLIC_KEY_FILE`.
     */
    publicKeyFile: string;
    /**
     * An identity provider's JWKS document (relative to the config file's folder; `''`: none);
     * a token's `kid` picks the key. Read at start-up.
     *
     * Default: `''`; environment: `LUCID_AUTH_JWKS_FILE`.
     */
    jwksFile: string;
  };
  /**
   * Sizes of requests.
   */
  limits: {
    /**
     * The largest value a PUT accepts, and the largest body of a transaction (`POST /api/txn`);
     * other JSON bodies are limited to 64 KiB.
     *
     * Default: `7340032` (7 MiB); environment: `LUCID_MAX_VALUE_BYTES`.
     */
    maxValueBytes: number;
  };
  /**
   * The embedded store.
   */
  sqlite: {
    /**
     * How SQLite syncs its log to disk. See [Durability](durability.md).
     *
     * Default: `normal`; environment: `LUCID_SQLITE_SYNCHRONOUS`.
     */
    synchronous: "normal" | "full";
    /**
     * The size of the in-process read cache in front of SQLite, in bytes; 0 turns it off. Every
     * write leaves its entry in the cache; an entry read from the file is kept on its key's second
     * read among recent misses, so reads spread over many more keys than the cache holds do not
     * churn it. The default keeps a server holding a million keys under 300 MB of memory (RSS).
     *
     * Default: `67108864` (64 MiB); environment: `LUCID_SQLITE_CACHE_BYTES`.
     */
    cacheBytes: number;
  };
  /**
   * Keys with a time to live.
   */
  expiry: {
    /**
     * How often expired rows are purged (and their `expired` notifications sent).
     *
     * Default: `250`; environment: `LUCID_SWEEP_INTERVAL_MS`.
     */
    sweepIntervalMs: number;
  };
  /**
   * The live notification stream (`GET /api/notifications`).
   */
  notifications: {
    /**
     * How often an idle notification stream gets a heartbeat comment.
     *
     * Default: `15000`.
     */
    heartbeatMs: number;
    /**
     * How many recent changes are kept for `Last-Event-ID` replay.
     *
     * Default: `10000`.
     */
    bufferSize: number;
    /**
     * A stream client further behind than this is disconnected.
     *
     * Default: `1048576` (1 MiB).
     */
    maxLagBytes: number;
    /**
     * Values up to this size (valid UTF-8) are included in events.
     *
     * Default: `4096` (4 KiB).
     */
    maxValueBytes: number;
  };
  /**
   * What Lucid logs.
   */
  log: {
    /**
     * The least severe kind of line logged. Logs are JSON lines (pino) on stdout; one line per
     * request is `log.access`. See [Logs](operations.md#logs-and-request-ids).
     *
     * Default: `info`; environment: `LUCID_LOG_LEVEL`.
     */
    level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
    /**
     * One line per request at `info` level. Off by default, as in etcd and Redis: it costs about
     * a third of a cached GET's time. `/metrics` counts every request either way.
     *
     * Default: `false`; environment: `LUCID_LOG_ACCESS`.
     */
    access: boolean;
  };
  /**
   * The web console.
   */
  ui: {
    /**
     * The [web console](web-console.md) at `/` and `/ui`; off, `/` is a short welcome
     * page pointing to `/docs` and the README.
     *
     * Default: `true`; environment: `LUCID_UI_ENABLED`.
     */
    enabled: boolean;
  };
  /**
   * A second listener for metrics scrapers.
   */
  metrics: {
    /**
     * A second port serving only `GET /metrics`, without a token, over plain HTTP; `null`: no
     * such listener. `GET /metrics` on the API port (admin token) works either way. See
     * [Metrics](operations.md#metrics).
     *
     * Default: `null`; environment: `LUCID_METRICS_PORT`.
     */
    port: number | null;
    /**
     * The address the metrics listener binds; widen it only on a network you trust, since it
     * needs no token.
     *
     * Default: `127.0.0.1`; environment: `LUCID_METRICS_HOST`.
     */
    host: string;
  };
  /**
   * Cross-origin calls from browsers.
   */
  cors: {
    /**
     * Browser origins allowed to call the API, exactly as browsers send them: scheme, host,
     * optional port; no path, no trailing slash, no wildcard. Empty: CORS off. See
     * [CORS](operations.md#cors).
     *
     * Default: `[]`; environment: `LUCID_CORS_ORIGINS`.
     */
    origins: string[];
  };
  /**
   * Encryption at rest (src/store/encrypted.ts), off while `key` is empty.
   */
  encryption: {
    /**
     * Base64 of 32 bytes (44 characters); `''`: off. Turns on
     * [encryption at rest](backups-and-encryption.md#encryption-at-rest). `lucid init --encrypt` or
     * `openssl rand -base64 32` makes one. Losing it loses the data: keep a copy apart from the
     * data (and apart from backups).
     *
     * Default: `''`; environment: `LUCID_ENCRYPTION_KEY`.
     */
    key: string;
    /**
     * Keys like `encryption.key` that values may still be under, only needed while an
     * interrupted `lucid rekey` is unfinished (start-up says so when one is missing).
     *
     * Default: `[]`; environment: `LUCID_ENCRYPTION_PREVIOUS_KEYS`.
     */
    previousKeys: string[];
  };
}
