public import IdentityRiskCore

/// A method's handler: starts the call and answers through the writer, at once
/// (inline) or later from any thread. It must answer exactly once, however
/// the call ends; ``RPCRouter/registerUnary(_:_:)`` takes care of that for
/// handlers that are plain async functions.
public typealias MethodHandler<M: RPCMethod> = @Sendable (M.Request, CallContext, ResponseWriter<M.Response>) -> Void

/// Method number → handler (compare grpc-swift's `RPCRouter`). Transports look
/// up a typed ``RegisteredMethod`` for each method they have a codec for,
/// once, when they start; a call then costs no lookup by name and no cast.
public struct RPCRouter: Sendable {
    private var handlers: [UInt32: any Sendable] = [:]

    public init() {}

    /// Registers (or replaces) the handler of `method`.
    public mutating func register<M: RPCMethod>(_ method: M.Type, _ handler: @escaping MethodHandler<M>) {
        handlers[M.descriptor.number] = RegisteredMethod<M>(handler: handler)
    }

    /// Registers a unary method whose work is one async function. It runs in a
    /// task that the call's cancellation cancels; its result or error is the answer.
    public mutating func registerUnary<M: RPCMethod>(
        _ method: M.Type,
        _ body: @escaping @Sendable (M.Request, CallContext) async throws(IdentityRiskError) -> M.Response
    ) {
        precondition(M.descriptor.shape == .unary, "\(M.descriptor) is not unary")
        register(method) { request, context, writer in
            let task = Task {
                guard !Task.isCancelled else {
                    return writer.respond(.failure(.cancelledBeforeStart))
                }
                do throws(IdentityRiskError) {
                    writer.respond(.success(try await body(request, context)))
                } catch {
                    writer.respond(.failure(error))
                }
            }
            writer.onCancel { task.cancel() }
        }
    }

    /// The handler of `method`, typed; `nil` if none is registered.
    public func handler<M: RPCMethod>(for method: M.Type) -> RegisteredMethod<M>? {
        handlers[M.descriptor.number] as? RegisteredMethod<M>
    }

    /// Methods of the table (``IdentityRiskMethods/all``) with no handler here.
    public var missingMethods: [MethodDescriptor] {
        IdentityRiskMethods.descriptors.filter { handlers[$0.number] == nil }
    }

    public var registeredNumbers: Set<UInt32> { Set(handlers.keys) }
}

/// One method's handler, with the checks every call of every shape gets first.
public struct RegisteredMethod<M: RPCMethod>: Sendable {
    @usableFromInline let handler: MethodHandler<M>

    init(handler: @escaping MethodHandler<M>) {
        self.handler = handler
    }

    /// Starts a call. A deadline that already passed, or a call cancelled before
    /// it started, is answered without running the handler.
    ///
    /// Inlinable so that a transport's code for one method specializes it: the
    /// generic form looks up the metadata of its generic types on every call.
    @inlinable
    public func start(_ request: M.Request, context: CallContext, sink: any ResponseSink<M.Response>) {
        if let deadline = context.deadline, ContinuousClock.now >= deadline {
            return sink.finish(.failure(.deadlinePassedBeforeStart))
        }
        if sink.isCancelled {
            return sink.finish(.failure(.cancelledBeforeStart))
        }
        handler(request, context, ResponseWriter(sink: sink, shape: M.descriptor.shape))
    }
}

extension IdentityRiskError {
    @usableFromInline static let cancelledBeforeStart = IdentityRiskError(code: .cancelled, message: "the call was cancelled by the client before it started")
    @usableFromInline static let deadlinePassedBeforeStart = IdentityRiskError(
        code: .deadlineExceeded, message: "the call's deadline passed before it started; nothing was done")
}
