//! Who an application names: the participating person, a second person, the
//! supervisor, read from the questionnaire's fields (latest values).

use crate::domain::{EmailAddress, HeaderText};
use crate::store::Tx;
use crate::store::applications::Application;
use crate::store::documents::latest_facts;

#[derive(Debug, Clone)]
pub struct Person {
    pub name: Option<String>,
    pub email: EmailAddress,
}

impl Person {
    /// "Erika Muster (erika@stadt.test)" or the address alone.
    pub fn display(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} ({})", self.email),
            None => self.email.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct People {
    pub municipality: String,
    /// The participating person; the applicant's address when the form has none.
    pub person: Person,
    /// The name of a second person (the form asks for no address).
    pub second_name: Option<String>,
    pub supervisor: Option<Person>,
    pub applicant: EmailAddress,
}

impl People {
    /// The participating person and the supervisor, without duplicates.
    pub fn invitees(&self) -> Vec<&Person> {
        let mut out = vec![&self.person];
        if let Some(s) = &self.supervisor
            && s.email.key() != self.person.email.key()
        {
            out.push(s);
        }
        out
    }
}

fn text(v: &str) -> Option<String> {
    let t = HeaderText::sanitize(v, 120).to_string();
    (!t.trim().is_empty()).then(|| t.trim().to_string())
}

/// Reads the people of `application` from its facts.
pub async fn of(tx: &mut Tx<'_>, application: &Application) -> anyhow::Result<People> {
    let facts = latest_facts(tx, application.id).await?;
    let field = |name: &str| {
        facts
            .get(&format!("field:{name}"))
            .and_then(|(v, _)| text(v))
    };
    let address = |name: &str| field(name).and_then(|v| EmailAddress::parse(&v).ok());
    let applicant = EmailAddress::parse(&application.applicant)?;
    let municipality = application
        .municipality
        .clone()
        .or_else(|| field("kommune_name"))
        .or_else(|| application.applicant_name.clone())
        .unwrap_or_else(|| application.applicant.clone());
    let person = Person {
        name: field("person_name"),
        email: address("person_email").unwrap_or_else(|| applicant.clone()),
    };
    let supervisor = address("vorgesetzte_email").map(|email| Person {
        name: field("vorgesetzte_name"),
        email,
    });
    Ok(People {
        municipality,
        person,
        second_name: field("zweite_person_name"),
        supervisor,
        applicant,
    })
}
