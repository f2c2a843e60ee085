/// The version of this IdentityRisk build: what `--version` prints on every
/// binary and what the server reports in Health (`server_version`). Bumped
/// with each release; the wire protocol has its own version (PROTOCOL.md §9).
public enum IdentityRiskVersion {
    public static let current = "0.3.0"
}
