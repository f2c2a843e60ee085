/// One problem with one property of a request (Graph `error.details[]`).
public struct FieldViolation: Sendable, Hashable, CustomStringConvertible {
    /// The Graph camelCase property name, e.g. `riskLevel`.
    public var field: String
    /// What is wrong and what is allowed.
    public var description: String
    /// A finer reason, e.g. `ReadOnlyProperty`; `nil` for a plain invalid value.
    public var innerCode: String?

    public init(field: String, description: String, innerCode: String? = nil) {
        self.field = field
        self.description = description
        self.innerCode = innerCode
    }
}
