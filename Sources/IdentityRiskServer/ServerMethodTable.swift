import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire

/// Starts a call of one method on a connection, given its decoded frame.
protocol ServerMethodBinding: Sendable {
    var descriptor: MethodDescriptor { get }
    func start(_ request: UnpackedRequest, callID: UInt64, timeoutMilliseconds: UInt32, on connection: ServerCallHandler)
}

/// A method's codec (``WireMethod``) joined with its handler (``RegisteredMethod``).
struct ServerMethod<M: WireMethod>: ServerMethodBinding {
    let handler: RegisteredMethod<M>

    var descriptor: MethodDescriptor { M.descriptor }

    func start(_ request: UnpackedRequest, callID: UInt64, timeoutMilliseconds: UInt32, on connection: ServerCallHandler) {
        connection.start(M.self, handler, request, callID: callID, timeoutMilliseconds: timeoutMilliseconds)
    }
}

/// Method number → binding, for every method that has both a codec
/// (``WireMethods/all``) and a handler in the router. Built once per server.
struct ServerMethodTable: Sendable {
    private let bindings: [(any ServerMethodBinding)?]
    /// Methods of the table that the router has no handler for; the server
    /// refuses to start while this is not empty.
    let missing: [MethodDescriptor]

    init(router: RPCRouter) {
        var bindings = [(any ServerMethodBinding)?](repeating: nil, count: Int(MethodDescriptor.streamingNumbers.upperBound) + 1)
        var missing: [MethodDescriptor] = []
        func bind<M: WireMethod>(_ method: M.Type) {
            if let handler = router.handler(for: method) {
                bindings[Int(M.descriptor.number)] = ServerMethod<M>(handler: handler)
            } else {
                missing.append(M.descriptor)
            }
        }
        for method in WireMethods.all { bind(method) }
        self.bindings = bindings
        self.missing = missing
    }

    func binding(number: UInt32) -> (any ServerMethodBinding)? {
        number < UInt32(bindings.count) ? bindings[Int(number)] : nil
    }
}
