//! ZKTeco readers over the binary protocol (UDP/TCP port 4370) and push mode
//! (ADMS/iclock over HTTP): wire codec, text formats,
//! record layouts, an async client and a device simulator.

pub mod client;
pub mod codec;
pub mod fuzzing;
pub mod push;
pub mod push_sim;
pub mod records;
pub mod sim;
pub mod time;

pub use client::{
    ClientOptions, DeviceInfo, DeviceProfile, LiveEvents, Transport, ZkClient, ZkError,
};
pub use codec::{cmd, make_commkey, CodecError, Packet};
pub use push_sim::{PushSim, PushSimConfig, PushSimStats};
pub use records::{
    AttendanceRecord, DeviceCounts, FingerTemplate, LiveEvent, LiveEventFormat, RecordError,
    RecordLayout, User, UserLayout,
};
pub use sim::{Faults, SimConfig, SimHandle, Simulator};
pub use time::{TimeError, ZkDateTime};
