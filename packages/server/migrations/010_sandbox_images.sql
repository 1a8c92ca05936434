-- Sandbox images (packages/runtime/src/sandbox/sandbox-image.ts): the sandbox memory of a connector bundle right
-- after it was evaluated and before any call ran, so that a worker which never loaded the bundle starts it without
-- parsing it. The publish checks' dry load writes the first one; any runtime that loads a bundle without an image
-- writes one. Keyed by the engine build that took it (no other build can use it) and by the sha256 of the bundle's
-- code. Like connectors.artifacts it holds no tenant data (an image is taken before the first call), so it has no
-- tenant column; images of builds no longer running are pruned by the service.
CREATE TABLE connectors.sandbox_images (
  build text NOT NULL,
  sha256 char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  image bytea NOT NULL,
  size integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (build, sha256)
);
GRANT SELECT, INSERT, DELETE ON connectors.sandbox_images TO bos_app;
