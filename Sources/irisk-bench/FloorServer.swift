import CFloorServer

/// `--floor`: the C epoll echo server (Sources/CFloorServer) on a scratch
/// socket, in-process on its own threads. It answers each request frame with
/// the same bytes, so the client does the same work and the socket carries the
/// same bytes per call as against iriskd (responses are a little shorter than
/// iriskd's: a CreateResponse repeats the record plus createdDateTime).
///
/// `@unchecked Sendable`: the only mutable state is `server`, an opaque C
/// handle set in `init` and cleared by `stop()`, which the main task calls
/// once after the run; the C server's own threads never touch this object.
final class FloorServer: BenchTarget, @unchecked Sendable {
    let name = "floor"
    let socketPath: String
    let speaksIdentityRisk = false
    let threads: Int
    let window: any MeasurementWindow = NoWindow()
    private var server: OpaquePointer?

    init(threads: Int, scratch: TemporaryDirectory) throws(BenchError) {
        socketPath = scratch.path + "/floor.sock"
        self.threads = threads
        var error: Int32 = 0
        guard let started = floor_server_start(socketPath, Int32(threads), &error) else {
            throw BenchError("cannot start the floor server on \(socketPath): \(UnixSocket.errnoText(error))")
        }
        server = started
    }

    func figures(for result: LoadResult) -> ServerFigures {
        var figures = ServerFigures(kind: "floor")
        figures.setInProcessCPU(result)
        figures.notes.append("floor: C epoll echo server, \(threads) thread(s), in-process; CPU is process minus load threads")
        return figures
    }

    /// Called once, from the main task, after the run.
    func stop() async {
        guard let s = server else { return }
        server = nil
        floor_server_stop(s)
    }
}
