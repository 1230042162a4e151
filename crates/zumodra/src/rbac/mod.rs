//! Per-tenant roles and permissions (SPEC §3), in one table. A member's role lives in
//! the tenant's own `members` table; `custom_permissions` can grant or revoke single
//! permissions on top of the role.

pub mod context;

use serde::Serialize;

pub use context::{Ctx, Member};

macro_rules! permissions {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// Something a member may do in a tenant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $($variant),* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            /// The permission's stable name, as shown to clients.
            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name),* }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

permissions! {
    JobsView => "jobs.view",
    JobsAdd => "jobs.add",
    JobsChange => "jobs.change",
    JobsDelete => "jobs.delete",
    CandidatesView => "candidates.view",
    CandidatesAdd => "candidates.add",
    CandidatesChange => "candidates.change",
    CandidatesDelete => "candidates.delete",
    ApplicationsView => "applications.view",
    ApplicationsAdd => "applications.add",
    ApplicationsChange => "applications.change",
    ApplicationsMove => "applications.move",
    ApplicationsDelete => "applications.delete",
    EmployeesView => "employees.view",
    EmployeesAdd => "employees.add",
    EmployeesChange => "employees.change",
    EmployeesDelete => "employees.delete",
    TimeOffViewAll => "time_off.view_all",
    TimeOffRequestOwn => "time_off.request_own",
    TimeOffApprove => "time_off.approve",
    ServicesView => "services.view",
    ServicesAdd => "services.add",
    ServicesChange => "services.change",
    ServicesDelete => "services.delete",
    MembersView => "members.view",
    MembersManage => "members.manage",
    AuditView => "audit.view",
    DataExport => "data.export",
    OwnershipTransfer => "ownership.transfer",
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A member's role in one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Owner,
    Admin,
    HrManager,
    Recruiter,
    HiringManager,
    Employee,
    Viewer,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Owner,
        Role::Admin,
        Role::HrManager,
        Role::Recruiter,
        Role::HiringManager,
        Role::Employee,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::HrManager => "hr_manager",
            Role::Recruiter => "recruiter",
            Role::HiringManager => "hiring_manager",
            Role::Employee => "employee",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.as_str() == text)
    }

    /// The role's permissions: SPEC §3's roles table. Deleting is for owner and admin.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner => Permission::ALL,
            Role::Admin => &[
                JobsView,
                JobsAdd,
                JobsChange,
                JobsDelete,
                CandidatesView,
                CandidatesAdd,
                CandidatesChange,
                CandidatesDelete,
                ApplicationsView,
                ApplicationsAdd,
                ApplicationsChange,
                ApplicationsMove,
                ApplicationsDelete,
                EmployeesView,
                EmployeesAdd,
                EmployeesChange,
                EmployeesDelete,
                TimeOffViewAll,
                TimeOffRequestOwn,
                TimeOffApprove,
                ServicesView,
                ServicesAdd,
                ServicesChange,
                ServicesDelete,
                MembersView,
                MembersManage,
                AuditView,
                DataExport,
            ],
            Role::HrManager => &[
                EmployeesView,
                EmployeesAdd,
                EmployeesChange,
                TimeOffViewAll,
                TimeOffRequestOwn,
                TimeOffApprove,
                JobsView,
                JobsAdd,
                JobsChange,
                CandidatesView,
                CandidatesAdd,
                CandidatesChange,
                ApplicationsView,
                ApplicationsAdd,
                ApplicationsChange,
                ApplicationsMove,
                AuditView,
                DataExport,
                MembersView,
            ],
            Role::Recruiter => &[
                JobsView,
                JobsAdd,
                JobsChange,
                CandidatesView,
                CandidatesAdd,
                CandidatesChange,
                ApplicationsView,
                ApplicationsAdd,
                ApplicationsChange,
                ApplicationsMove,
                TimeOffRequestOwn,
                MembersView,
            ],
            Role::HiringManager => &[
                JobsView,
                CandidatesView,
                ApplicationsView,
                ApplicationsMove,
                TimeOffRequestOwn,
                MembersView,
            ],
            Role::Employee => &[JobsView, ServicesView, MembersView, TimeOffRequestOwn],
            Role::Viewer => &[
                JobsView,
                CandidatesView,
                ApplicationsView,
                EmployeesView,
                ServicesView,
            ],
        }
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
        }
    }

    #[test]
    fn only_owner_and_admin_delete_and_only_owner_transfers() {
        for role in Role::ALL {
            let perms = role.permissions();
            let deletes = perms.iter().any(|p| p.as_str().ends_with(".delete"));
            assert_eq!(
                deletes,
                matches!(role, Role::Owner | Role::Admin),
                "{role:?}"
            );
            assert_eq!(
                perms.contains(&Permission::OwnershipTransfer),
                *role == Role::Owner
            );
        }
        assert!(Role::Recruiter.permissions().contains(&Permission::JobsAdd));
        assert!(!Role::Viewer.permissions().contains(&Permission::JobsAdd));
        assert!(!Role::HiringManager
            .permissions()
            .contains(&Permission::JobsChange));
    }
}
