import CIdentityRiskProto
import CProtobufC
@testable import IdentityRiskCore
import IdentityRiskService
@testable import IdentityRiskWire
import Testing

/// `unknownFutureValue` -> `UNKNOWN_FUTURE_VALUE`.
func screamingSnakeCase(_ camelCase: String) -> String {
    var out = ""
    for c in camelCase {
        if c.isUppercase, !out.isEmpty { out += "_" }
        out += c.uppercased()
    }
    return out
}

/// The values of a protoc-c generated enum descriptor.
struct GeneratedEnum {
    let descriptor: ProtobufCEnumDescriptor

    /// `identityrisk.v1.RiskLevel`, ...
    var name: String { String(cString: descriptor.name) }

    /// Every value, `(name, number)`, in number order.
    var values: [(name: String, number: Int32)] {
        (0..<Int(descriptor.n_values)).map { i in (String(cString: descriptor.values[i].name), descriptor.values[i].value) }
    }

    /// The name of the value numbered `number`, looked up as protobuf-c does.
    func valueName(_ number: UInt32) -> String? {
        guard let number = Int32(exactly: number) else { return nil }
        return withUnsafePointer(to: descriptor) { d in
            protobuf_c_enum_descriptor_get_value(d, number).map { String(cString: $0.pointee.name) }
        }
    }
}

/// The fields of a protoc-c generated message descriptor.
struct GeneratedMessage {
    let descriptor: ProtobufCMessageDescriptor

    var fields: [ProtobufCFieldDescriptor] {
        (0..<Int(descriptor.n_fields)).map { descriptor.fields[$0] }
    }

    /// The field numbered `number`, looked up as protobuf-c does.
    func field(_ number: UInt32) -> ProtobufCFieldDescriptor? {
        withUnsafePointer(to: descriptor) { d in protobuf_c_message_descriptor_get_field(d, number)?.pointee }
    }

    /// The members of the oneof whose case member sits at `caseOffset` in the C struct.
    func oneofMembers(caseOffset: Int) -> [ProtobufCFieldDescriptor] {
        fields.filter { Self.isOneofMember($0, caseOffset: caseOffset) }
    }

    static func isOneofMember(_ field: ProtobufCFieldDescriptor, caseOffset: Int) -> Bool {
        field.flags & PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue != 0 && Int(field.quantifier_offset) == caseOffset
    }

    /// The full name of a message-typed field's message, e.g. `identityrisk.v1.CreateRequest`.
    static func messageName(_ field: ProtobufCFieldDescriptor) -> String? {
        guard field.type == PROTOBUF_C_TYPE_MESSAGE, let sub = field.descriptor else { return nil }
        return String(cString: sub.assumingMemoryBound(to: ProtobufCMessageDescriptor.self).pointee.name)
    }
}

@Suite("Swift tables against the generated protobuf-c descriptors")
struct GeneratedDescriptorTests {
    // MARK: - Enum numbers

    static var riskLevel: GeneratedEnum { GeneratedEnum(descriptor: identityrisk__v1__risk_level__descriptor) }
    static var riskEventStatus: GeneratedEnum { GeneratedEnum(descriptor: identityrisk__v1__risk_event_status__descriptor) }
    static var orderBy: GeneratedEnum { GeneratedEnum(descriptor: identityrisk__v1__order_by__descriptor) }
    static var statusCode: GeneratedEnum { GeneratedEnum(descriptor: identityrisk__v1__status_code__descriptor) }

    @Test("the descriptors are the enums they claim to be")
    func enumDescriptorNames() {
        #expect(Self.riskLevel.name == "identityrisk.v1.RiskLevel")
        #expect(Self.riskEventStatus.name == "identityrisk.v1.RiskEventStatus")
        #expect(Self.orderBy.name == "identityrisk.v1.OrderBy")
        #expect(Self.statusCode.name == "identityrisk.v1.StatusCode")
    }

    @Test("screamingSnakeCase splits at every capital")
    func screaming() {
        #expect(screamingSnakeCase("unknownFutureValue") == "UNKNOWN_FUTURE_VALUE")
        #expect(screamingSnakeCase("closedMfaAuto") == "CLOSED_MFA_AUTO")
        #expect(screamingSnakeCase("low") == "LOW")
    }

    @Test("each RiskLevel's wireNumber is the generated value named RISK_LEVEL_<Graph name>", arguments: RiskLevel.allCases)
    func riskLevelNumber(_ level: RiskLevel) {
        #expect(level.wireNumber != 0, "0 is RISK_LEVEL_UNSPECIFIED")
        #expect(Self.riskLevel.valueName(level.wireNumber) == "RISK_LEVEL_" + screamingSnakeCase(level.rawValue))
        #expect(RiskLevel(wireNumber: level.wireNumber) == level)
    }

    @Test("each RiskEventStatus's wireNumber is the generated value named RISK_EVENT_STATUS_<Graph name>", arguments: RiskEventStatus.allCases)
    func riskEventStatusNumber(_ status: RiskEventStatus) {
        #expect(status.wireNumber != 0, "0 is RISK_EVENT_STATUS_UNSPECIFIED")
        #expect(Self.riskEventStatus.valueName(status.wireNumber) == "RISK_EVENT_STATUS_" + screamingSnakeCase(status.rawValue))
        #expect(RiskEventStatus(wireNumber: status.wireNumber) == status)
    }

    /// `createdDateTime asc` -> `ORDER_BY_CREATED_ASC`: the .proto names an
    /// order by its property without `DateTime`, then the direction.
    static func orderByName(_ order: ListOrder) -> String {
        let parts = order.rawValue.split(separator: " ").map(String.init)
        var property = parts.first ?? ""
        if property.hasSuffix("DateTime") { property.removeLast("DateTime".count) }
        return "ORDER_BY_" + screamingSnakeCase(property) + "_" + (parts.last ?? "").uppercased()
    }

    @Test("each ListOrder's wireNumber is the generated value named ORDER_BY_<property>_<direction>", arguments: ListOrder.allCases)
    func orderByNumber(_ order: ListOrder) {
        #expect(order.wireNumber != 0, "0 is ORDER_BY_UNSPECIFIED (the default order)")
        #expect(Self.orderBy.valueName(order.wireNumber) == Self.orderByName(order))
        #expect(ListOrder(wireNumber: order.wireNumber) == order)
    }

    @Test("the ORDER_BY name derivation gives the .proto's four names")
    func orderByNames() {
        #expect(ListOrder.allCases.map(Self.orderByName)
            == ["ORDER_BY_CREATED_ASC", "ORDER_BY_CREATED_DESC", "ORDER_BY_RISK_EVENT_ASC", "ORDER_BY_RISK_EVENT_DESC"])
    }

    /// Every non-zero generated value is the number of a Swift member; 0 is `<PREFIX>UNSPECIFIED`.
    static func checkCoverage(_ generated: GeneratedEnum, prefix: String, numbers: [UInt32], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(numbers).count == numbers.count, "two members share a wire number: \(numbers)", sourceLocation: sourceLocation)
        #expect(!numbers.contains(0), sourceLocation: sourceLocation)
        let values = generated.values
        #expect(values.first { $0.number == 0 }?.name == prefix + "UNSPECIFIED", sourceLocation: sourceLocation)
        for value in values where value.number != 0 {
            #expect(value.number > 0 && numbers.contains(UInt32(value.number)),
                    "\(generated.name) value \(value.name) = \(value.number) has no Swift member", sourceLocation: sourceLocation)
        }
        #expect(values.count == numbers.count + 1, "members plus UNSPECIFIED", sourceLocation: sourceLocation)
    }

    @Test("every non-zero generated RiskLevel, RiskEventStatus and OrderBy value is some member's number")
    func enumCoverage() {
        Self.checkCoverage(Self.riskLevel, prefix: "RISK_LEVEL_", numbers: RiskLevel.allCases.map(\.wireNumber))
        Self.checkCoverage(Self.riskEventStatus, prefix: "RISK_EVENT_STATUS_", numbers: RiskEventStatus.allCases.map(\.wireNumber))
        Self.checkCoverage(Self.orderBy, prefix: "ORDER_BY_", numbers: ListOrder.allCases.map(\.wireNumber))
    }

    @Test("each error code's status number is the generated value named STATUS_CODE_<code>", arguments: Fixtures.allCodes)
    func statusCodeNumber(_ code: IdentityRiskError.Code) {
        #expect(Self.statusCode.valueName(StatusCodec.number(code)) == "STATUS_CODE_" + screamingSnakeCase(code.description))
    }

    @Test("every generated status code but OK is some error code's number")
    func statusCodeCoverage() {
        let numbers = StatusCodec.table.map(\.1)
        #expect(Set(numbers).count == numbers.count)
        #expect(Self.statusCode.valueName(0) == "STATUS_CODE_OK")
        for value in Self.statusCode.values where value.number != 0 {
            #expect(numbers.contains(UInt32(value.number)), "\(value.name) has no IdentityRiskError.Code")
        }
        #expect(Self.statusCode.values.count == numbers.count + 1)
    }

    // MARK: - The method table

    static var request: GeneratedMessage { GeneratedMessage(descriptor: identityrisk__v1__request__descriptor) }
    static var response: GeneratedMessage { GeneratedMessage(descriptor: identityrisk__v1__response__descriptor) }
    static let methodCase = MemoryLayout<Identityrisk__V1__Request>.offset(of: \.method_case)!
    static let resultCase = MemoryLayout<Identityrisk__V1__Response>.offset(of: \.result_case)!

    @Test("WireMethods.all has exactly the service's methods, each once")
    func tableMatchesService() {
        let wire = WireMethods.all.map { $0.descriptor }
        #expect(Set(wire) == Set(IdentityRiskMethods.descriptors))
        #expect(wire.count == Set(wire).count, "a method is listed twice")
        #expect(IdentityRiskMethods.descriptors.count == Set(IdentityRiskMethods.descriptors).count)
    }

    @Test("method names and numbers are unique")
    func uniqueNamesAndNumbers() {
        let descriptors = IdentityRiskMethods.descriptors
        #expect(Set(descriptors.map(\.name)).count == descriptors.count)
        #expect(Set(descriptors.map(\.number)).count == descriptors.count)
    }

    @Test("each method is a oneof member of Request.method and Response.result with its number and name",
          arguments: IdentityRiskMethods.descriptors)
    func methodInGeneratedOneofs(_ method: MethodDescriptor) throws {
        let requestField = try #require(Self.request.field(method.number), "Request has no field \(method.number) (\(method.name))")
        #expect(GeneratedMessage.isOneofMember(requestField, caseOffset: Self.methodCase), "Request field \(method.number) is not in the method oneof")
        #expect(String(cString: requestField.name) == method.name)
        #expect(GeneratedMessage.messageName(requestField) == "identityrisk.v1.\(method.name.prefix(1).uppercased() + method.name.dropFirst())Request")

        let responseField = try #require(Self.response.field(method.number), "Response has no field \(method.number) (\(method.name))")
        #expect(GeneratedMessage.isOneofMember(responseField, caseOffset: Self.resultCase), "Response field \(method.number) is not in the result oneof")
        #expect(String(cString: responseField.name) == method.name)
        #expect(GeneratedMessage.messageName(responseField) == "identityrisk.v1.\(method.name.prefix(1).uppercased() + method.name.dropFirst())Response")
    }

    @Test("unary methods are numbered 16...63, server-streaming ones 64...127", arguments: IdentityRiskMethods.descriptors)
    func methodNumberRanges(_ method: MethodDescriptor) {
        switch method.shape {
        case .unary: #expect(MethodDescriptor.unaryNumbers.contains(method.number))
        case .serverStreaming: #expect(MethodDescriptor.streamingNumbers.contains(method.number))
        }
        #expect(MethodDescriptor.unaryNumbers == 16...63)
        #expect(MethodDescriptor.streamingNumbers == 64...127)
    }

    @Test("every oneof member of the generated Request but cancel, and of Response, has a codec in the table")
    func everyGeneratedMemberHasACodec() {
        let table = Dictionary(uniqueKeysWithValues: WireMethods.all.map { ($0.descriptor.number, $0.descriptor.name) })
        let requestMembers = Self.request.oneofMembers(caseOffset: Self.methodCase)
        #expect(requestMembers.map { String(cString: $0.name) }.contains("cancel"))
        for field in requestMembers where String(cString: field.name) != "cancel" {
            #expect(table[field.id] == String(cString: field.name), "Request.method member \(String(cString: field.name)) = \(field.id) has no WireMethod")
        }
        #expect(requestMembers.count == table.count + 1, "the method oneof is the table plus cancel")
        let responseMembers = Self.response.oneofMembers(caseOffset: Self.resultCase)
        for field in responseMembers {
            #expect(table[field.id] == String(cString: field.name), "Response.result member \(String(cString: field.name)) = \(field.id) has no WireMethod")
        }
        #expect(responseMembers.count == table.count)
    }

    @Test("the cancel member is the envelope's, outside the method numbers, and no method claims it")
    func cancelIsNotAMethod() throws {
        let cancel = try #require(Self.request.oneofMembers(caseOffset: Self.methodCase).first { String(cString: $0.name) == "cancel" })
        #expect(UInt32(IDENTITYRISK__V1__REQUEST__METHOD_CANCEL.rawValue) == cancel.id)
        #expect(WireMethods.method(number: cancel.id) == nil)
        #expect(IdentityRiskMethods.descriptor(number: cancel.id) == nil)
        #expect(Self.response.field(cancel.id) == nil, "a cancel is never answered")
    }

    @Test("WireMethods.method(number:) finds each method by its number and nothing else",
          arguments: [UInt32(0), 1, 2, 15, 20, 23, 63, 64, 127, 128, 1000, UInt32.max])
    func lookupByNumber(_ number: UInt32) {
        let method = WireMethods.method(number: number)
        #expect(method?.descriptor == IdentityRiskMethods.descriptor(number: number))
        #expect((method == nil) == !IdentityRiskMethods.descriptors.contains { $0.number == number })
    }

    @Test("WireMethods.method(number:) and the service's lookups agree for every method", arguments: IdentityRiskMethods.descriptors)
    func lookupEveryMethod(_ method: MethodDescriptor) {
        #expect(WireMethods.method(number: method.number)?.descriptor == method)
        #expect(IdentityRiskMethods.descriptor(number: method.number) == method)
        #expect(IdentityRiskMethods.descriptor(named: method.name) == method)
    }
}
