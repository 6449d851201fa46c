Feature: Connecting an MCP host to a deployment
  A developer points gigamcp-conformance at the MCP URL they are about to paste into ChatGPT
  (or Claude). The harness replays the host's connector flow step by step and names the
  requirement that breaks, before the host says "Connector failed to register".
  The ones tagged fixture need a deliberately broken deployment (the test fixture); they are
  skipped when the features run against a real one (`cargo xtask conformance --target URL`).

  Background:
    Given a deployment that follows the MCP authorization spec

  Scenario: ChatGPT discovers, registers, authorizes and uses the connector
    When ChatGPT connects with the "chatgpt" profile
    Then "discovery/challenge/resource-metadata" passes
    And "discovery/prm/path-inserted" passes
    And "discovery/asm/s256" passes
    And "registration/dcr/accepted" passes
    And "authorize/state-echoed" passes
    And "authorize/iss-exact" passes
    And "token/no-store" passes
    And "mcp/tools/call" passes
    And "mcp/chatgpt/search-contract" passes
    And no check fails
    And the summary says "0 failed"

  Scenario: A token issued for one workspace does not open another
    When ChatGPT connects with the "chatgpt" profile
    Then "rs/audience/cross-workspace" passes
    And "rs/token/garbage" passes
    And "rs/token/query-string" passes

  Scenario: Disconnecting revokes access, and the harness measures how fast
    When ChatGPT connects with the "chatgpt" profile
    Then "revocation/access-token" passes
    And "rs/token/revoked" passes
    And the revocation latency is reported

  Scenario: Refresh tokens rotate and survive a race
    When ChatGPT connects with the "chatgpt" profile
    Then "refresh/rotation" passes
    And "refresh/concurrent" passes
    And "refresh/replay-rejected" passes

  Scenario Outline: Every host profile works with every protocol revision
    When ChatGPT connects with the "<profile>" profile speaking "<spec>"
    Then no check fails
    And "mcp/lifecycle/handshake" passes

    Examples:
      | profile | spec       |
      | chatgpt | auto       |
      | chatgpt | 2026-07-28 |
      | claude  | 2025-06-18 |
      | claude  | 2025-03-26 |
      | strict  | 2025-11-25 |

  @fixture
  Scenario: A deployment that forgets the resource_metadata pointer is caught
    Given the deployment omits resource_metadata from its 401 challenge
    When ChatGPT connects with the "chatgpt" profile
    Then "discovery/challenge/resource-metadata" fails
    And the run exits with code 1

  @fixture
  Scenario: A deployment that accepts a token meant for another workspace is caught
    Given the deployment does not check the token audience
    When ChatGPT connects with the "chatgpt" profile
    Then "rs/audience/cross-workspace" fails

  @fixture
  Scenario: A deployment without S256 is refused, as ChatGPT refuses it
    Given the deployment does not advertise S256
    When ChatGPT connects with the "chatgpt" profile
    Then "discovery/asm/s256" fails

  @fixture
  Scenario: A missing SHOULD is a warning, not a failure, unless strict
    Given the deployment omits expires_in from token responses
    When ChatGPT connects with the "chatgpt" profile
    Then "token/expires-in" warns
    And the run exits with code 0

  Scenario: A 2026-07-28 deployment validates versions and routing headers
    When ChatGPT connects with the "chatgpt" profile speaking "2026-07-28"
    Then "mcp/modern/version-header-mismatch" passes
    And "mcp/modern/unsupported-version" passes
    And "mcp/modern/unknown-method" passes
    And "mcp/modern/method-header" passes
    And "mcp/modern/name-header" passes
    And "mcp/modern/name-header-resource" passes
    And "mcp/modern/name-header-base64" passes
    And "mcp/modern/param-header" passes
    And "mcp/modern/param-header-valid" passes
    And "mcp/modern/get-405" passes
    And "mcp/modern/result-type" passes

  Scenario: 2026-07-28 rules do not apply to a session pinned to an older revision
    When ChatGPT connects with the "claude" profile speaking "2025-06-18"
    Then "mcp/modern/method-header" is not applicable
    And "mcp/modern/result-type" is not applicable

  @fixture
  Scenario: A deployment that routes without checking Mcp-Method is caught
    Given the deployment ignores the Mcp-Method header
    When ChatGPT connects with the "chatgpt" profile speaking "2026-07-28"
    Then "mcp/modern/method-header" fails
    And "mcp/modern/name-header" passes

  @fixture
  Scenario: A deployment that compares a Base64-encoded Mcp-Name as is is caught
    Given the deployment compares Mcp-Name without decoding Base64
    When ChatGPT connects with the "chatgpt" profile speaking "2026-07-28"
    Then "mcp/modern/name-header-base64" fails
    And "mcp/modern/name-header" passes
    And "mcp/modern/name-header-resource" passes

  @fixture
  Scenario: A deployment that never checks Mcp-Param headers is caught
    Given the deployment ignores Mcp-Param headers
    When ChatGPT connects with the "chatgpt" profile speaking "2026-07-28"
    Then "mcp/modern/param-header" fails
    And "mcp/modern/param-header-valid" passes

  @fixture
  Scenario: A 2026-07-28 unknown method answered with HTTP 200 is caught
    Given the deployment answers unknown 2026-07-28 methods with 200
    When ChatGPT connects with the "chatgpt" profile
    Then "mcp/modern/unknown-method" fails
    And "mcp/errors/method-not-found" passes

  Scenario: Batches are received under 2025-03-26 and refused from 2025-06-18
    When ChatGPT connects with the "claude" profile speaking "2025-03-26"
    Then "mcp/batch/accepted-2025-03-26" passes
    And "mcp/batch/initialize-rejected" passes
    And "mcp/batch/rejected" is not applicable
    When ChatGPT connects with the "claude" profile speaking "2025-06-18"
    Then "mcp/batch/rejected" passes
    And "mcp/batch/accepted-2025-03-26" is not applicable

  @fixture
  Scenario: Serving a batch after 2025-06-18 is a warning, not a failure
    Given the deployment still serves JSON-RPC batches
    When ChatGPT connects with the "chatgpt" profile
    Then "mcp/batch/rejected" warns
    And the run exits with code 0

  Scenario: Malformed requests get JSON errors, never a 5xx, and the server keeps working
    When ChatGPT connects with the "chatgpt" profile
    Then "mcp/robustness/no-5xx" passes
    And "mcp/robustness/no-html" passes
    And "mcp/robustness/json-errors" passes
    And "mcp/robustness/survives" passes

  @fixture
  Scenario: A server error on a malformed request is a warning that names the minimal request
    Given the deployment crashes on ids of the wrong type
    When ChatGPT connects with the "chatgpt" profile
    Then "mcp/robustness/no-5xx" warns
    And the finding for "mcp/robustness/no-5xx" mentions "minimal request"
    And the run exits with code 0
