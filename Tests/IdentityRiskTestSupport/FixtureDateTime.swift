public import IdentityRiskCore

/// Parses a datetime the test knows to be valid; stops the test run at the
/// caller's line if it is not (a fixture's typo, not a finding).
public func dt(_ text: String, file: StaticString = #fileID, line: UInt = #line) -> DateTimeOffset {
    do {
        return try DateTimeOffset(parsing: text)
    } catch {
        preconditionFailure("test fixture \(text) did not parse: \(error)", file: file, line: line)
    }
}
