import IdentityRiskCore
import IdentityRiskService
import Testing

@Suite("Permission grants (the seed's Permissions table)")
struct PermissionGrantTests {
    let alice = PeerIdentity(pid: 10, uid: 1000, gid: 1000)
    let reader = PeerIdentity(pid: 11, uid: 1001, gid: 2000)
    let stranger = PeerIdentity(pid: 12, uid: 1002, gid: 3000)

    @Test("grants parse as PERMISSION:uid=N or PERMISSION:gid=N and print back the same")
    func parsing() throws {
        #expect(PermissionGrant(parsing: "read:gid=1001") == PermissionGrant(.read, to: .gid(1001)))
        #expect(PermissionGrant(parsing: "readWrite:uid=1000") == PermissionGrant(.readWrite, to: .uid(1000)))
        #expect(try #require(PermissionGrant(parsing: "read:uid=7")).description == "read:uid=7")
        for bad in ["", "read", "write:uid=1", "read:user=1", "read:uid=", "read:uid=-1", "READ:uid=1", "read:uid=1x"] {
            #expect(PermissionGrant(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test("no grants: everyone who can connect may do everything (today's behaviour)")
    func noGrants() {
        let grants = PermissionGrants(serverUID: 0)
        #expect(grants.permission(for: stranger) == .readWrite)
        #expect(grants.permission(for: nil) == .readWrite)
    }

    @Test("with grants: the server's uid has readWrite, a granted gid reads, others get nothing; the best grant wins")
    func withGrants() {
        let grants = PermissionGrants([PermissionGrant(.read, to: .gid(2000)), PermissionGrant(.readWrite, to: .uid(1001)), PermissionGrant(.read, to: .uid(1001))], serverUID: 1000)
        #expect(grants.permission(for: alice) == .readWrite)
        #expect(grants.permission(for: reader) == .readWrite, "its uid grant beats its gid grant")
        #expect(grants.permission(for: stranger) == nil)
        #expect(grants.permission(for: nil) == nil)
        let readOnly = PermissionGrants([PermissionGrant(.read, to: .gid(2000))], serverUID: 1000)
        #expect(readOnly.permission(for: reader) == .read)
    }

    @Test("a refusal names the method, the permission it needs and what the peer has; reads are allowed to readers", arguments: IdentityRiskMethods.descriptors)
    func refusal(method: MethodDescriptor) throws {
        let grants = PermissionGrants([PermissionGrant(.read, to: .gid(2000))], serverUID: 1000)
        let asReader = grants.refusal(of: method, by: reader, holding: .read)
        if method.permission == .read {
            #expect(asReader == nil)
        } else {
            let error = try #require(asReader)
            #expect(error.code == .permissionDenied)
            #expect(error.code.httpStatus == 403 && error.code.graphCode == "accessDenied")
            #expect(error.message.contains(method.name) && error.message.contains("readWrite") && error.message.contains("uid 1001"))
            #expect(error.message.contains("read only"))
        }
        let asStranger = try #require(grants.refusal(of: method, by: stranger, holding: nil))
        #expect(asStranger.message.contains("no permission"))
        #expect(grants.refusal(of: method, by: alice, holding: .readWrite) == nil)
    }
}
