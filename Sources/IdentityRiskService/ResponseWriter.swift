public import IdentityRiskCore

/// Where a call's answers go: implemented by each transport, one per call
/// (compare grpc-swift's `RPCWriter` and its `ServerTransport` streams).
///
/// ```
///  handler ── write(message) ──▶ sink ──▶ transport frame (streaming calls: any number)
///          ── finish(result) ──▶ sink ──▶ final frame (every call: exactly once)
/// ```
///
/// - A unary call finishes with `.success(response)` (its one answer) or `.failure`.
/// - A server-streaming call writes messages, then finishes with `.success(nil)`
///   or `.failure`.
/// - The transport ends a call itself on cancellation, on its deadline, on
///   shutdown, when the connection closes or when a stream's buffer bound is
///   exceeded: ``isCancelled`` turns true, the cancel handlers run, writes
///   return `false` and later finishes are ignored.
/// - Calls may come from any thread.
public protocol ResponseSink<Response>: AnyObject, Sendable {
    associatedtype Response: Sendable

    /// One message of a stream. `false`: the call is over; stop producing.
    func write(_ message: Response) -> Bool

    /// One message of a stream, waiting first while the transport has many
    /// messages of this call not yet encoded (its own backlog, not the
    /// client's): the producer slows down to the transport's pace instead of
    /// being ended. `false`: the call is over. Default: ``write(_:)``.
    func send(_ message: Response) async -> Bool

    /// Ends the call (exactly once; later calls are ignored).
    func finish(_ result: Result<Response?, IdentityRiskError>)

    /// Runs `handler` once when the call is cancelled (at once if it already is).
    func onCancel(_ handler: @escaping @Sendable () -> Void)

    var isCancelled: Bool { get }
}

extension ResponseSink {
    public func send(_ message: Response) async -> Bool { write(message) }
}

/// A handler's view of its call's ``ResponseSink``, shaped by the method.
public struct ResponseWriter<Response: Sendable>: Sendable {
    public let sink: any ResponseSink<Response>
    public let shape: CallShape

    public init(sink: any ResponseSink<Response>, shape: CallShape) {
        self.sink = sink
        self.shape = shape
    }

    /// A unary call's one answer.
    public func respond(_ result: Result<Response, IdentityRiskError>) {
        precondition(shape == .unary, "respond(_:) is for unary calls; a stream writes, then finishes")
        sink.finish(result.map(Optional.some))
    }

    /// One message of a server-streaming call; `false` once the call is over.
    @discardableResult
    public func write(_ message: Response) -> Bool {
        precondition(shape == .serverStreaming, "write(_:) is for server-streaming calls; a unary call responds once")
        return sink.write(message)
    }

    /// One message of a server-streaming call, at the transport's pace
    /// (``ResponseSink/send(_:)``); `false` once the call is over.
    @discardableResult
    public func send(_ message: Response) async -> Bool {
        precondition(shape == .serverStreaming, "send(_:) is for server-streaming calls; a unary call responds once")
        return await sink.send(message)
    }

    /// Ends a server-streaming call: `nil` for OK, or the error it ends with.
    public func finish(error: IdentityRiskError? = nil) {
        precondition(shape == .serverStreaming, "finish(error:) is for server-streaming calls")
        sink.finish(error.map { .failure($0) } ?? .success(nil))
    }

    public func onCancel(_ handler: @escaping @Sendable () -> Void) { sink.onCancel(handler) }

    public var isCancelled: Bool { sink.isCancelled }
}
