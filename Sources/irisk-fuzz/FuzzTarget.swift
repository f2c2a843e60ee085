import Dispatch
import IdentityRiskCore
import IdentityRiskService
import IdentityRiskMemoryStore
import IdentityRiskWire
import NIOCore
import Synchronization

/// One fuzz input, run through what the server does with bytes after the
/// handshake: split into frames (`FrameDecoder`), unpack each with protobuf-c
/// within the memory budget (`RequestCodec.decode`), route it through the
/// method table (``WireMethods/all``) to its codec and to the real handler
/// (``IdentityRiskService`` over an in-memory store, not durable, labelled so),
/// and encode the answer (`ResponseEncoder`).
///
/// Besides crashes and sanitizer reports, it checks invariants and traps
/// (a libFuzzer finding) when one fails:
/// - every call is answered exactly once, within 5 s;
/// - the answer the server would send decodes on the client side as that
///   method's answer, with the same status code and message, or the same result;
/// - a request that decoded cleanly re-encodes (client codec) to one that decodes equal.
enum FuzzTarget {
    static let maxFrameBytes = WireProtocol.defaultMaxRequestFrameBytes
    static let store = MemoryEventStore(capacity: 1_000_000)
    static let router = IdentityRiskService(
        store: store,
        clock: FixedClock(),
        health: { HealthStatus(serving: .serving, serverVersion: "fuzz", protocolVersion: 1, store: "memory", uptimeMilliseconds: 0, openConnections: 1) }
    ).router

    struct FixedClock: EventClock {
        func now() -> DateTimeOffset { try! DateTimeOffset(parsing: "2026-01-02T03:04:05.1234567Z") }
    }

    static func run(_ bytes: UnsafeRawBufferPointer) {
        var buffer = ByteBuffer(bytes: bytes)
        while true {
            let frame: ByteBuffer?
            do {
                frame = try FrameDecoder.nextFrame(from: &buffer, maxFrameBytes: maxFrameBytes)
            } catch {
                return  // oversize length prefix: the server closes the connection
            }
            guard let frame else { return }  // EOF inside a frame: nothing of it is processed
            RequestCodec.decode(frame) { serve($0) }
        }
    }

    static func serve(_ inbound: InboundRequest) {
        switch inbound.kind {
        case .cancel:
            return
        case .noMethod:
            checkAnswer(IdentityRiskMethods.Health.self, inbound.callID, .failure(IdentityRiskError(code: .unimplemented, message: "no method")))
        case .malformed(let error):
            checkAnswer(IdentityRiskMethods.Health.self, inbound.callID, .failure(error))
        case .call(let request):
            guard let method = WireMethods.method(number: request.methodNumber) else {
                fatalError("protobuf-c decoded method #\(request.methodNumber), which the method table does not have")
            }
            call(method, request, callID: inbound.callID)
        }
    }

    static func call<M: WireMethod>(_ method: M.Type, _ unpacked: UnpackedRequest, callID: UInt64) {
        switch M.decodeRequest(unpacked) {
        case .failure(let error):
            checkAnswer(method, callID, .failure(error))
        case .success(let request):
            checkReencoding(method, request)
            guard let handler = router.handler(for: method) else { fatalError("no handler for \(M.descriptor)") }
            let context = CallContext(method: M.descriptor, peer: nil, deadline: nil)
            if M.descriptor.shape == .serverStreaming {
                // A stream: its opening messages, then the client's cancel; it must end once.
                let sink = StreamCapturingSink<M.Response>()
                handler.start(request, context: context, sink: sink)
                let (messages, end) = sink.takeOpeningThenCancel()
                for message in messages { checkAnswer(method, callID, .success(message)) }
                if case .failure(let error) = end { checkAnswer(method, callID, .failure(error)) }
                return
            }
            let sink = CapturingSink<M.Response>()
            handler.start(request, context: context, sink: sink)
            checkAnswer(method, callID, sink.wait())
        }
    }

    /// What the server sends must decode on the client as the same answer.
    static func checkAnswer<M: WireMethod>(_ method: M.Type, _ callID: UInt64, _ result: Result<M.Response, IdentityRiskError>) {
        var out = ByteBuffer()
        ResponseCodec.encode(method, callID: callID, result: result.map(Optional.some), into: &out)
        let decoded: (callID: UInt64, result: Result<M.Response, IdentityRiskError>)
        do {
            guard let frame = try FrameDecoder.nextFrame(from: &out, maxFrameBytes: Int(UInt32.max)) else {
                fatalError("ResponseEncoder wrote an incomplete frame for \(result)")
            }
            decoded = try ResponseCodec.decode(frame, as: method)
        } catch {
            fatalError("a client cannot decode the server's answer \(result): \(error)")
        }
        require(decoded.callID == callID, "call id changed", callID, decoded.callID)
        switch (result, decoded.result) {
        case (.failure(let sent), .failure(let received)):
            require(sent.code == received.code, "status code changed", sent, received)
            require(sent.message == received.message || sent.message.utf8.contains(0), "message changed", sent, received)
            require(sent.violations.count == received.violations.count, "violations changed", sent, received)
        case (.success(let sent), .success(let received)):
            require(sent == received, "\(M.descriptor.name) result changed on the wire", sent, received)
        default:
            fatalError("result kind changed on the wire: sent \(result), received \(decoded.result)")
        }
    }

    /// A request that decoded without violations re-encodes to one that decodes equal.
    static func checkReencoding<M: WireMethod>(_ method: M.Type, _ request: M.Request) {
        if let checked = request as? any DecodedWithViolations, checked.hasDecodingViolations { return }
        guard M.encodingProblem(request) == nil else { return }
        var out = ByteBuffer()
        RequestCodec.encode(method, request, callID: 7, into: &out)
        guard let frame = try? FrameDecoder.nextFrame(from: &out, maxFrameBytes: Int(UInt32.max)) else {
            fatalError("RequestCodec.encode wrote an incomplete frame for \(request)")
        }
        let again = RequestCodec.decode(frame, limits: RequestDecodingLimits(allocationFactor: 64)) { inbound -> M.Request? in
            guard case .call(let unpacked) = inbound.kind, case .success(let decoded) = M.decodeRequest(unpacked) else { return nil }
            return decoded
        }
        require(again == request, "\(M.descriptor.name) request changed through re-encoding", request, again)
    }

    static func require<T>(_ condition: Bool, _ what: String, _ before: T, _ after: T) {
        if !condition { fatalError("\(what): \(before) became \(after)") }
    }
}

/// Requests whose decoder keeps problems as field violations (they do not re-encode).
protocol DecodedWithViolations {
    var hasDecodingViolations: Bool { get }
}

extension IdentityRiskEventDraft: DecodedWithViolations {
    var hasDecodingViolations: Bool { !decodingViolations.isEmpty }
}

extension UpdateEvent.Request: DecodedWithViolations {
    var hasDecodingViolations: Bool { !patch.values.decodingViolations.isEmpty }
}

/// Takes a handler's one answer, from any thread.
final class CapturingSink<Response: Sendable>: ResponseSink {
    private let answer = Mutex<Result<Response, IdentityRiskError>?>(nil)
    private let answered = DispatchSemaphore(value: 0)

    func write(_ message: Response) -> Bool { fatalError("a unary handler wrote a stream message") }

    func finish(_ result: Result<Response?, IdentityRiskError>) {
        let first = answer.withLock { answer -> Bool in
            guard answer == nil else { return false }
            answer = result.flatMap { $0.map { .success($0) } ?? .failure(IdentityRiskError(code: .internal, message: "unary call finished without a result")) }
            return true
        }
        if !first { fatalError("a call was answered twice") }
        answered.signal()
    }

    func onCancel(_ handler: @escaping @Sendable () -> Void) {}

    var isCancelled: Bool { false }

    func wait() -> Result<Response, IdentityRiskError> {
        guard answered.wait(timeout: .now() + 5) == .success, let result = answer.withLock({ $0 }) else {
            fatalError("a call was not answered within 5 s")
        }
        return result
    }
}

/// A stream's sink for one fuzz input: takes its first messages (at most 4),
/// then cancels it as a client would, and waits for its one final status.
final class StreamCapturingSink<Response: Sendable>: ResponseSink {
    private struct State {
        var messages: [Response] = []
        var end: Result<Response?, IdentityRiskError>?
        var cancelled = false
        var onCancel: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())
    private let progressed = DispatchSemaphore(value: 0)

    func write(_ message: Response) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard state.end == nil, !state.cancelled, state.messages.count < 4 else { return false }
            state.messages.append(message)
            return true
        }
        if accepted { progressed.signal() }
        return accepted
    }

    func finish(_ result: Result<Response?, IdentityRiskError>) {
        let first = state.withLock { state -> Bool in
            guard state.end == nil else { return false }
            state.end = result
            return true
        }
        if !first { fatalError("a stream was finished twice") }
        progressed.signal()
    }

    func onCancel(_ handler: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.cancelled { return true }
            state.onCancel = handler
            return false
        }
        if now { handler() }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// The opening messages (or an early end), then cancel, then the end.
    func takeOpeningThenCancel() -> (messages: [Response], end: Result<Response?, IdentityRiskError>) {
        guard progressed.wait(timeout: .now() + 5) == .success else {
            fatalError("a stream neither wrote nor ended within 5 s")
        }
        let handler = state.withLock { state -> (@Sendable () -> Void)? in
            state.cancelled = true
            defer { state.onCancel = nil }
            return state.onCancel
        }
        handler?()
        let deadline = DispatchTime.now() + 5
        while state.withLock({ $0.end == nil }) {
            if progressed.wait(timeout: deadline) == .timedOut { fatalError("a cancelled stream did not end within 5 s") }
        }
        return state.withLock { ($0.messages, $0.end!) }
    }
}
