package unsyncmapreal

import (
	"net"
	"sync"
)

// gostor/gotgt, pkg/port/iscsit/iscsid.go at ec41867^: Run accepts
// initiator connections in a loop and starts go s.handler(DATAIN, conn)
// for each; handler runs txHandler, which runs scsiCommandHandler,
// which counts every SCSI opcode in s.TargetStats.SCSIIOCount (a map in
// the scsi.Stats struct the driver embeds by value) with no lock, two
// calls below the go statement, while Stats hands the same map to
// callers that range over it: fatal error: concurrent map iteration and
// map write, https://github.com/gostor/gotgt/pull/104. The analyzer
// sees the connection goroutines writing the map at once (each
// connection's handler is one more unlocked writer); the fix (ec41867,
// e5e3c09) moves the count into UpdateStats under s.mu and makes Stats
// copy the map under s.mu.RLock (ISCSITargetDriverFixed below).

// Stats is gotgt's scsi.Stats.
type Stats struct {
	IsClientConnected bool
	ReadIOPS          int64
	WriteIOPS         int64
	SCSIIOCount       map[int]int64
}

const (
	DATAIN  byte = 0x01
	DATAOUT byte = 0x02

	CONN_STATE_SCSI  = 4
	CONN_STATE_CLOSE = 5

	OpSCSICmd = 0x01
)

// ISCSICommand is one iSCSI PDU.
type ISCSICommand struct {
	OpCode     int
	CDB        []byte
	SCSIOpCode byte
}

type iscsiTask struct{}

type iscsiConnection struct {
	state    int
	conn     net.Conn
	readLock *sync.RWMutex
	txTask   *iscsiTask
	req      *ISCSICommand
	resp     *ISCSICommand
}

func (c *iscsiConnection) close() { c.conn.Close() }

// ISCSITargetDriver is the iSCSI target.
type ISCSITargetDriver struct {
	mu                *sync.RWMutex
	l                 net.Listener
	enableStats       bool
	isClientConnected bool
	TargetStats       Stats
}

func (s *ISCSITargetDriver) Run() error {
	l, err := net.Listen("tcp", ":3260")
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.l = l
	s.mu.Unlock()
	for {
		conn, err := l.Accept()
		if err != nil {
			continue
		}
		s.isClientConnected = true
		iscsiConn := &iscsiConnection{conn: conn, readLock: new(sync.RWMutex)}
		// start a new thread to do with this command
		go s.handler(DATAIN, iscsiConn) // want `go statement in a loop: each goroutine writes s.TargetStats.SCSIIOCount \(line \d+\) with no lock`
	}
}

func (s *ISCSITargetDriver) handler(events byte, conn *iscsiConnection) {
	if events&DATAIN != 0 {
		go s.rxHandler(conn)
	}
	if conn.state != CONN_STATE_CLOSE && events&DATAOUT != 0 {
		s.txHandler(conn)
	}
	if conn.state == CONN_STATE_CLOSE {
		conn.close()
	}
}

func (s *ISCSITargetDriver) rxHandler(conn *iscsiConnection) {
	conn.readLock.Lock()
	defer conn.readLock.Unlock()
	if conn.state == CONN_STATE_SCSI {
		s.scsiCommandHandler(conn)
	}
}

func (s *ISCSITargetDriver) txHandler(conn *iscsiConnection) {
	if conn.state == CONN_STATE_SCSI && conn.txTask == nil {
		if err := s.scsiCommandHandler(conn); err != nil {
			return
		}
	}
	if s.enableStats {
		s.UpdateStats(conn)
	}
}

func (s *ISCSITargetDriver) scsiCommandHandler(conn *iscsiConnection) (err error) {
	req := conn.req
	switch req.OpCode {
	case OpSCSICmd:
		if s.enableStats {
			if _, ok := s.TargetStats.SCSIIOCount[(int)(req.CDB[0])]; ok != false {
				s.TargetStats.SCSIIOCount[(int)(req.CDB[0])] += 1
			} else {
				s.TargetStats.SCSIIOCount[(int)(req.CDB[0])] = 1
			}
		}
	}
	return nil
}

func (s *ISCSITargetDriver) Stats() Stats {
	return s.TargetStats
}

func (s *ISCSITargetDriver) UpdateStats(conn *iscsiConnection) {
	s.TargetStats.IsClientConnected = s.isClientConnected
	s.TargetStats.ReadIOPS += 1
}

// ISCSITargetDriverFixed is the driver after the fix.
type ISCSITargetDriverFixed struct {
	mu                *sync.RWMutex
	l                 net.Listener
	enableStats       bool
	isClientConnected bool
	TargetStats       Stats
}

func (s *ISCSITargetDriverFixed) Run() error {
	l, err := net.Listen("tcp", ":3260")
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.l = l
	s.mu.Unlock()
	for {
		conn, err := l.Accept()
		if err != nil {
			continue
		}
		iscsiConn := &iscsiConnection{conn: conn, readLock: new(sync.RWMutex)}
		go s.handler(DATAIN, iscsiConn)
	}
}

func (s *ISCSITargetDriverFixed) handler(events byte, conn *iscsiConnection) {
	if events&DATAIN != 0 {
		go s.rxHandler(conn)
	}
	if conn.state != CONN_STATE_CLOSE && events&DATAOUT != 0 {
		s.txHandler(conn)
	}
}

func (s *ISCSITargetDriverFixed) rxHandler(conn *iscsiConnection) {
	conn.readLock.Lock()
	defer conn.readLock.Unlock()
	if conn.state == CONN_STATE_SCSI {
		s.scsiCommandHandler(conn)
	}
}

func (s *ISCSITargetDriverFixed) txHandler(conn *iscsiConnection) {
	if conn.state == CONN_STATE_SCSI && conn.txTask == nil {
		if err := s.scsiCommandHandler(conn); err != nil {
			return
		}
	}
	if s.enableStats {
		s.UpdateStats(conn)
	}
}

func (s *ISCSITargetDriverFixed) scsiCommandHandler(conn *iscsiConnection) (err error) {
	return nil
}

func (s *ISCSITargetDriverFixed) Stats() Stats {
	s.mu.RLock()
	stats := s.TargetStats
	stats.SCSIIOCount = map[int]int64{}
	for key, value := range s.TargetStats.SCSIIOCount {
		stats.SCSIIOCount[key] = value
	}
	s.mu.RUnlock()
	return stats
}

func (s *ISCSITargetDriverFixed) UpdateStats(conn *iscsiConnection) {
	s.mu.Lock()
	s.TargetStats.IsClientConnected = s.isClientConnected
	s.TargetStats.SCSIIOCount[(int)(conn.resp.SCSIOpCode)] += 1
	s.mu.Unlock()
}
