/// Parser for the OData `$filter` subset IdentityRisk accepts. (Placeholder until the full parser lands.)
public enum ODataFilter {
    public static func parse(_ text: String) throws(IdentityRiskError) -> FilterExpression {
        throw IdentityRiskError(code: .unimplemented, message: "$filter is not implemented yet", target: "filter")
    }
}
