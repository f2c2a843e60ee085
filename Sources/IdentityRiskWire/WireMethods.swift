import IdentityRiskService

/// Every method with its codec: the one table transports route through.
public enum WireMethods {
    public static let all: [any WireMethod.Type] = [
        IdentityRiskMethods.Create.self,
        IdentityRiskMethods.Get.self,
        IdentityRiskMethods.List.self,
        IdentityRiskMethods.Health.self,
        IdentityRiskMethods.Update.self,
        IdentityRiskMethods.Delete.self,
        IdentityRiskMethods.Stats.self,
        IdentityRiskMethods.Watch.self,
    ]

    /// The method with oneof field number `number`.
    public static func method(number: UInt32) -> (any WireMethod.Type)? {
        guard number < UInt32(byNumber.count) else { return nil }
        return byNumber[Int(number)]
    }

    private static let byNumber: [(any WireMethod.Type)?] = {
        var table = [(any WireMethod.Type)?](repeating: nil, count: Int(MethodDescriptor.streamingNumbers.upperBound) + 1)
        for method in all { table[Int(method.descriptor.number)] = method }
        return table
    }()
}
